"""`aftershock check`: evaluate a policy's rules on a model, optionally against a baseline model.

Each rule is evaluated per target (rule x target is one outcome, one JUnit testcase); an outcome
holds violations, each with a stable key. With a baseline model, a violation whose key the baseline
also has is *known* (already there) and does not fail the build: a pull request must not add a
single point of failure, but it need not fix the ones it inherited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aftershock.analysis.structure import (
    all_single_points_of_failure,
    blast_radius,
    criticality,
    dependency_path,
    hard_cycles,
)
from aftershock.errors import did_you_mean
from aftershock.gate.availability import target_unavailability
from aftershock.gate.policy import Policy, Rule, Where
from aftershock.model.compile import CompiledGraph

PASS, FAIL, KNOWN = "pass", "fail", "known"


@dataclass
class Violation:
    """One thing a rule forbids, found in the model. `key` identifies it across model versions."""

    key: str
    message: str
    subject: str = ""  # the component, region or cycle at fault, for short listings
    known: bool = False  # also present in the baseline model


@dataclass
class Outcome:
    """The verdict of one rule on one target (the whole model for model-wide rules)."""

    rule: Rule
    target: str
    violations: list[Violation] = field(default_factory=list)
    measured: float | None = None
    detail: str = ""

    @property
    def new_violations(self) -> list[Violation]:
        """Violations the baseline does not have (all of them without a baseline)."""
        return [v for v in self.violations if not v.known]

    @property
    def status(self) -> str:
        """pass, fail (a new violation), or known (only violations the baseline already had)."""
        if not self.violations:
            return PASS
        return FAIL if self.new_violations else KNOWN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule.rule,
            "name": self.rule.name,
            "target": self.target,
            "status": self.status,
            "value": self.rule.value,
            "measured": self.measured,
            "detail": self.detail,
            "violations": [
                {"key": v.key, "subject": v.subject, "message": v.message, "new": not v.known} for v in self.violations
            ],
        }


@dataclass
class CheckResult:
    """Every outcome of a policy on a model."""

    model: str
    policy: str
    baseline: str | None
    outcomes: list[Outcome]
    policy_name: str | None = None

    @property
    def passed(self) -> bool:
        """True when no outcome has a new violation (the build may go on)."""
        return all(o.status != FAIL for o in self.outcomes)

    @property
    def counts(self) -> dict[str, int]:
        """How many outcomes passed, failed, or only have known violations."""
        counts = {PASS: 0, FAIL: 0, KNOWN: 0}
        for o in self.outcomes:
            counts[o.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`kind: check`, which `aftershock report` renders)."""
        return {
            "kind": "check",
            "model": self.model,
            "policy": self.policy,
            "policy_name": self.policy_name,
            "baseline": self.baseline,
            "passed": self.passed,
            "counts": self.counts,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


def check_model(
    graph: CompiledGraph,
    policy: Policy,
    baseline: CompiledGraph | None = None,
    on_rule: Callable[[Rule], None] | None = None,
) -> CheckResult:
    """Evaluate every rule of `policy` on `graph`; with `baseline`, mark violations it already had.

    `on_rule` is called after each rule (for a progress bar).
    """
    outcomes: list[Outcome] = []
    known: set[tuple[int, str]] = set()
    for rule in policy.rules:
        outcomes += evaluate_rule(graph, rule, strict=True)
        if baseline is not None:
            for old in evaluate_rule(baseline, rule, strict=False):
                known.update((rule.index, v.key) for v in old.violations)
        if on_rule is not None:
            on_rule(rule)
    for outcome in outcomes:
        for v in outcome.violations:
            v.known = (outcome.rule.index, v.key) in known
    return CheckResult(
        model=graph.model.name,
        policy=policy.path,
        baseline=baseline.model.path if baseline is not None else None,
        outcomes=outcomes,
        policy_name=policy.name,
    )


def evaluate_rule(graph: CompiledGraph, rule: Rule, strict: bool = True) -> list[Outcome]:
    """Outcomes of one rule. `strict`: unknown targets and empty selections are errors."""
    evaluate = _EVALUATORS[rule.rule]
    return evaluate(graph, rule, strict)


def select_targets(graph: CompiledGraph, rule: Rule, strict: bool = True) -> list[str]:
    """The components a rule protects: its targets, its `where` selection, or the model's targets."""
    if rule.targets:
        missing = [t for t in rule.targets if t not in graph.index]
        if missing and strict:
            raise rule.error(
                f"no component named '{missing[0]}' in the model",
                hint=did_you_mean(missing[0], graph.names) or "check the name in the model",
            )
        return [t for t in rule.targets if t in graph.index]
    if rule.where is not None:
        chosen = select(graph, rule.where)
        if not chosen and strict:
            raise rule.error(
                f"`where` ({rule.where.describe()}) selects no component of the model",
                hint=_tag_hint(graph, rule.where),
            )
        return chosen
    targets = list(graph.default_targets)
    if not targets and strict:
        raise rule.error(
            "the model has no targets (components with `impact` or a `tier` tag)",
            hint="name them with `target:` or select them with `where:`",
        )
    return targets


def select(graph: CompiledGraph, where: Where) -> list[str]:
    """Names of the components matching every condition of `where` (tag values compared as text)."""
    chosen = []
    for name, comp, kind in zip(graph.names, graph.components, graph.kinds, strict=True):
        if where.kinds and kind not in where.kinds:
            continue
        if where.names and name not in where.names:
            continue
        if any(str(comp.tags.get(k)) != str(v) or k not in comp.tags for k, v in where.tags.items()):
            continue
        chosen.append(name)
    return chosen


def _tag_hint(graph: CompiledGraph, where: Where) -> str:
    seen: dict[str, set[str]] = {}
    for comp in graph.components:
        for k, v in comp.tags.items():
            seen.setdefault(k, set()).add(str(v))
    if not seen:
        return "the model's components have no tags"
    return "tags in the model: " + "; ".join(
        f"{k}: {', '.join(sorted(vs))}" for k, vs in sorted(seen.items())
    )


def _no_spof(graph: CompiledGraph, rule: Rule, strict: bool) -> list[Outcome]:
    targets = select_targets(graph, rule, strict)
    spofs = all_single_points_of_failure(graph, targets)
    outcomes = []
    for target in targets:
        violations = [
            Violation(
                key=f"{target}<-{s}",
                message=f"{s} alone takes {target} down ({' -> '.join(dependency_path(graph, target, s))})",
                subject=s,
            )
            for s in spofs[target]
        ]
        detail = f"{len(violations)} single point(s) of failure" if violations else "no SPOF"
        outcomes.append(Outcome(rule, target, violations, float(len(violations)), detail))
    return outcomes


def _min_availability(graph: CompiledGraph, rule: Rule, strict: bool) -> list[Outcome]:
    assert rule.value is not None
    outcomes = []
    for target in select_targets(graph, rule, strict):
        try:
            estimate = target_unavailability(graph, target)
        except ValueError as exc:
            if not strict:
                continue  # a baseline without the data has no comparable verdict
            raise rule.error(f"cannot compute the availability of '{target}': {exc}",
                             hint="give those components `failure:` or `unavailability:`") from None
        availability = 1.0 - estimate.unavailability
        violations = []
        if availability < rule.value:
            violations.append(
                Violation(
                    key=target,
                    message=f"{target} availability {availability:.6f} is below {rule.value:g}",
                    subject=f"{availability:.6f}",
                )
            )
        detail = f"availability {availability:.6f} ({estimate.method}); required {rule.value:g}"
        outcomes.append(Outcome(rule, target, violations, availability, detail))
    return outcomes


def _no_hard_cycles(graph: CompiledGraph, rule: Rule, strict: bool) -> list[Outcome]:
    violations = [
        Violation(
            key="cycle:" + ",".join(members),
            message=f"hard dependency cycle ({len(members)}): {' <-> '.join(members)}",
            subject="{" + ", ".join(members) + "}",
        )
        for members in hard_cycles(graph)
    ]
    detail = f"{len(violations)} hard cycle(s)" if violations else "no hard cycle"
    return [Outcome(rule, "model", violations, float(len(violations)), detail)]


def regions(graph: CompiledGraph) -> dict[str, np.ndarray]:
    """Each region with the ids of what fails with it: the components whose `placement.region`
    names it, and a component of kind `region` (named by its component name, joined to the
    placement group of the same name when there is one)."""
    placed: dict[str, list[int]] = {}
    for i, comp in enumerate(graph.components):
        if comp.placement is not None and comp.placement.region:
            placed.setdefault(comp.placement.region, []).append(i)
    for i, kind in enumerate(graph.kinds):
        if kind == "region":
            placed.setdefault(graph.names[i], []).append(i)
    return {r: np.unique(np.asarray(ids, dtype=np.int64)) for r, ids in sorted(placed.items())}


def _no_single_region(graph: CompiledGraph, rule: Rule, strict: bool) -> list[Outcome]:
    """A target violates it when the loss of one whole region (every component placed there, or
    the region's own component, failing together) takes it down."""
    targets = select_targets(graph, rule, strict)
    if not regions(graph) and strict:
        raise rule.error(
            "the model names no region (no `placement: {region: ...}`, no component of kind region)",
            hint="give the components their placement, or drop the rule",
        )
    region_down = {
        region: blast_radius(graph, [graph.names[i] for i in ids]).down
        for region, ids in regions(graph).items()
    }
    outcomes = []
    for target in targets:
        violations = [
            Violation(
                key=f"{target}@{region}",
                message=f"losing region {region} takes {target} down",
                subject=region,
            )
            for region, down in region_down.items()
            if target in down
        ]
        if violations:
            detail = "down with region " + ", ".join(v.key.split("@", 1)[1] for v in violations)
        else:
            detail = f"survives the loss of any one of {len(region_down)} region(s)"
        outcomes.append(Outcome(rule, target, violations, float(len(violations)), detail))
    return outcomes


def _max_blast(graph: CompiledGraph, rule: Rule, strict: bool) -> list[Outcome]:
    assert rule.value is not None
    considered = set(select(graph, rule.where)) if rule.where is not None else None
    if considered is not None and not considered and strict:
        raise rule.error(
            f"`where` ({rule.where.describe()}) selects no component of the model",  # type: ignore[union-attr]
            hint=_tag_hint(graph, rule.where),  # type: ignore[arg-type]
        )
    ranked = [c for c in criticality(graph) if considered is None or c.component in considered]
    worst = ranked[0].revenue_per_hour_at_risk if ranked else 0.0
    violations = [
        Violation(
            key=c.component,
            message=(
                f"{c.component} failing puts ${c.revenue_per_hour_at_risk:,.0f}/h at risk "
                f"(limit ${rule.value:,.0f}/h)"
            ),
            subject=c.component,
        )
        for c in ranked
        if c.revenue_per_hour_at_risk > rule.value
    ]
    detail = f"largest single-failure blast ${worst:,.0f}/h; limit ${rule.value:,.0f}/h"
    return [Outcome(rule, "model", violations, worst, detail)]


_EVALUATORS: dict[str, Callable[[CompiledGraph, Rule, bool], list[Outcome]]] = {
    "no_spof": _no_spof,
    "min_availability": _min_availability,
    "no_hard_cycles": _no_hard_cycles,
    "no_single_region": _no_single_region,
    "max_blast_revenue_per_hour": _max_blast,
}
