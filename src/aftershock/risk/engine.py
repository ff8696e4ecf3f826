"""Estimating the risk of a model: plan, run the chunks (locally or on Dask), summarise.

>>> from aftershock.model.compile import compile_model
>>> from aftershock.model.load import load_model_text
>>> graph = compile_model(load_model_text('''
... components:
...   db: {failure: {rate_per_year: 4, mean_duration: 1h}}
...   shop: {requires: [db], unavailability: 0, impact: {revenue_per_hour: 1000}}
... '''))
>>> result = estimate_risk(graph, RiskSettings(trials=2000, seed=1))
>>> 3 < result.targets["shop"].down_hours.mean < 5
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.compile import CompiledGraph
from aftershock.risk.montecarlo import RiskPlan, plan_risk
from aftershock.risk.profiles import SECONDS_PER_YEAR, failure_sources
from aftershock.risk.results import Contributor, RiskResult, TargetRisk
from aftershock.risk.summary import ChunkResult, ChunkSummary, batches, chunk_sizes, run_batch

BACKENDS = ("local", "dask")
OUTAGES_PER_CHUNK = 400_000  # keeps a chunk's arrays to tens of MB whatever the model's size


@dataclass(frozen=True)
class RiskSettings:
    """How to run: trials, horizon, seed, chunking and where the chunks run."""

    trials: int = 100_000
    horizon_s: float = SECONDS_PER_YEAR
    seed: int = 0
    chunk_trials: int = 4096  # at most; fewer for models with many outages per trial
    backend: str = "local"
    scheduler: str | None = None
    workers: int = 2
    processes: bool = True
    targets: tuple[str, ...] | None = None

    def check(self) -> None:
        """Refuse settings that cannot run (user errors)."""
        if self.trials < 1:
            raise AftershockError(f"--trials must be at least 1 (got {self.trials})")
        if self.horizon_s <= 0:
            raise AftershockError("--horizon must be longer than zero", hint="for example 1y or 90d")
        if self.chunk_trials < 1:
            raise AftershockError("the chunk size must be at least 1 trial")
        if self.backend not in BACKENDS:
            raise AftershockError(f"unknown backend '{self.backend}'", hint="use local or dask")
        if self.workers < 1:
            raise AftershockError("--workers must be at least 1")


def resolve_targets(graph: CompiledGraph, targets: tuple[str, ...] | None) -> list[str]:
    """The targets asked for (checked), else every component with business impact or a tier."""
    if targets:
        for t in targets:
            if t not in graph.index:
                raise AftershockError(
                    f"unknown target '{t}'", file=graph.model.path,
                    hint=did_you_mean(t, graph.names) or "name a component of the model",
                )
        return list(dict.fromkeys(targets))
    found = graph.default_targets
    if not found:
        raise AftershockError(
            "the model has no target: no component has `impact` or a `tier` tag",
            file=graph.model.path,
            hint="add impact: {revenue_per_hour: ...} to what the business sells, or pass --target",
        )
    return found


def make_plan(graph: CompiledGraph, settings: RiskSettings, stream_aliases: dict[str, str] | None = None,
              targets: list[str] | None = None) -> RiskPlan:
    """Failure sources and precomputed tables of a compiled model."""
    sources, notes = failure_sources(graph, stream_aliases=stream_aliases)
    chosen = targets if targets is not None else resolve_targets(graph, settings.targets)
    return plan_risk(graph, sources, chosen, settings.horizon_s, notes)


def chunk_trials(plans: list[RiskPlan], settings: RiskSettings) -> int:
    """Trials per chunk: `settings.chunk_trials`, fewer when a trial holds many outages.

    A function of the models and settings only (never of the backend or the workers), so the
    chunking, and with it every random stream, is the same wherever the run goes.
    """
    years = settings.horizon_s / SECONDS_PER_YEAR
    per_trial = max(
        sum(s.profile.rate_per_year for s in plan.sources[: plan.model_sources]) * years for plan in plans
    )
    return max(1, min(settings.chunk_trials, int(OUTAGES_PER_CHUNK / max(per_trial, 1.0))))


def run_plans(
    plans: list[RiskPlan], settings: RiskSettings, progress: Callable[[int], None] | None = None
) -> ChunkResult:
    """Run every chunk of trials under every plan, on the chosen backend, merged in chunk order."""
    settings.check()
    sizes = chunk_sizes(settings.trials, chunk_trials(plans, settings))
    if settings.backend == "dask":
        from aftershock.risk.distributed import run_on_dask

        return run_on_dask(plans, settings.seed, sizes, scheduler=settings.scheduler,
                           workers=settings.workers, processes=settings.processes, progress=progress)
    merged: ChunkResult | None = None
    for first, batch in batches(sizes):
        part = run_batch(plans, settings.seed, first, batch, progress)
        merged = part if merged is None else merged.merge(part)
    assert merged is not None
    return merged


def estimate_risk(
    graph: CompiledGraph, settings: RiskSettings | None = None, progress: Callable[[int], None] | None = None
) -> RiskResult:
    """Monte Carlo estimate of downtime, incidents and loss per target, with contributors."""
    settings = settings or RiskSettings()
    settings.check()
    plan = make_plan(graph, settings)
    summary = run_plans([plan], settings, progress).summaries[0]
    return risk_result(plan, summary, settings)


def risk_result(plan: RiskPlan, summary: ChunkSummary, settings: RiskSettings, chunk: int | None = None) -> RiskResult:
    """Assemble the result of one plan's merged summary (`chunk`: trials per chunk, if not its own)."""
    horizon_h = settings.horizon_s / 3600
    total = summary.total_loss.mean or 1.0
    contributors = [
        Contributor(src.name, src.kind, m, m.mean / total, src.profile.source)
        for src, m in zip(plan.sources, summary.contributions, strict=True)
        if m.total > 0
    ]
    contributors.sort(key=lambda c: -c.expected_loss.mean)
    targets: dict[str, TargetRisk] = {}
    for j, name in enumerate(plan.target_names):
        per_source = summary.contributions_by_target[j] / summary.trials
        top = sorted(
            ((plan.sources[s].name, plan.sources[s].kind, float(v)) for s, v in enumerate(per_source) if v > 0),
            key=lambda c: -c[2],
        )[:10]
        targets[name] = TargetRisk(
            name=name,
            revenue_per_hour=float(plan.revenue_per_hour[j]),
            degraded_loss=float(plan.degraded_loss[j]),
            horizon_hours=horizon_h,
            down_hours=summary.down_hours[j],
            degraded_hours=summary.degraded_hours[j],
            incidents=summary.incidents[j],
            loss=summary.loss[j],
            contributors=top,
        )
    sources = [s.to_dict(plan.graph) for s in plan.sources[: plan.model_sources]]
    notes = list(plan.notes)
    if not any(plan.revenue_per_hour):
        notes.append("no target has revenue_per_hour: losses are zero, downtime is still estimated")
    return RiskResult(
        model=plan.graph.model.name,
        trials=summary.trials,
        horizon_hours=horizon_h,
        seed=settings.seed,
        backend=settings.backend,
        chunk_trials=chunk if chunk is not None else chunk_trials([plan], settings),
        targets=targets,
        total_loss=summary.total_loss,
        contributors=contributors,
        sources=sources,
        notes=notes,
        segments=summary.segments,
    )
