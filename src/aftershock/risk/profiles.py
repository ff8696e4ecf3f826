"""Failure profiles: how often each component and common-cause event fails, and for how long.

A profile comes from the model (`failure:` or `unavailability:`), else from the catalog's defaults
by provider and kind (catalog/failure_defaults.yaml, each default with its source). Common-cause
events (`common_causes:` in a model file) take down every component placed in their provider,
region or zone at once.

Time model (the engine's, stated once here): failures START as a Poisson process in calendar time
at `rate_per_year`; each lasts an independent duration; a component is failed while any of its
outages lasts. Its long-run unavailability is then ``1 - exp(-rate * mean_duration)``, the
probability that an M/G/infinity queue is busy (Ross, Introduction to Probability Models, sec. 5.3).
A duration given as `mean_duration` is exponential (the maximum-entropy law for a known mean); as
`duration: {median, p90}` it is lognormal, fitted to those two quantiles (the method riskquant uses
for 90% intervals). A model `unavailability: p` keeps the default duration for the component's kind
and sets the rate so that the unavailability is exactly p.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from aftershock.errors import AftershockError
from aftershock.model.compile import CompiledGraph
from aftershock.model.load import Model
from aftershock.model.schema import CommonCause, Component, Failure
from aftershock.model.source import Document, read_document

SECONDS_PER_YEAR = 8760 * 3600.0
Z90 = 1.2815515655446004  # standard normal 90th percentile
DEFAULT_TTL_S = 300.0  # a dns_record without `ttl` (the simulator's default too)
DEFAULTS_PATH = Path(__file__).resolve().parents[1] / "catalog" / "failure_defaults.yaml"


@dataclass(frozen=True)
class FailureProfile:
    """Outages start at `rate_per_year`; a duration is exponential (sigma = 0) or lognormal."""

    rate_per_year: float
    mean_duration_s: float
    sigma: float = 0.0  # lognormal shape; 0 means exponential with mean `mean_duration_s`
    source: str = "model"
    always_failed: bool = False

    @classmethod
    def lognormal(cls, rate_per_year: float, median_s: float, p90_s: float, source: str) -> FailureProfile:
        """A profile whose duration has the given median and 90th percentile."""
        median_s = max(median_s, 1e-3)
        sigma = max(math.log(max(p90_s, median_s) / median_s) / Z90, 0.0)
        if sigma == 0.0:
            sigma = 1e-9  # a point mass, kept lognormal so sampling stays one code path
        return cls(rate_per_year, median_s * math.exp(sigma * sigma / 2), sigma, source)

    @property
    def median_s(self) -> float:
        """Median outage duration in seconds."""
        if self.sigma > 0:
            return self.mean_duration_s * math.exp(-self.sigma * self.sigma / 2)
        return self.mean_duration_s * math.log(2)

    @property
    def unavailability(self) -> float:
        """Long-run probability of being failed: 1 - exp(-rate x mean duration)."""
        if self.always_failed:
            return 1.0
        return -math.expm1(-self.rate_per_year / SECONDS_PER_YEAR * self.mean_duration_s)

    def duration_quantile_s(self, q: float) -> float:
        """The q-quantile of the outage duration in seconds."""
        if self.sigma > 0:
            from scipy.special import ndtri

            return self.median_s * math.exp(self.sigma * float(ndtri(q)))
        return -self.mean_duration_s * math.log1p(-q)

    def sample_durations_s(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` independent outage durations in seconds."""
        if self.sigma > 0:
            return self.median_s * np.exp(self.sigma * rng.standard_normal(size))
        return rng.exponential(self.mean_duration_s, size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (hours, not seconds)."""
        return {
            "rate_per_year": self.rate_per_year,
            "mean_duration_hours": self.mean_duration_s / 3600,
            "median_duration_hours": self.median_s / 3600,
            "distribution": "always failed" if self.always_failed else
            ("lognormal" if self.sigma > 0 else "exponential"),
            "unavailability": self.unavailability,
            "source": self.source,
        }


@dataclass(frozen=True)
class DnsCaching:
    """How resolver caches change a dns_record's own outages as its clients see them.

    Clients' cached answers expire spread evenly over one TTL, so the failure reaches them over
    the first TTL of the outage; a client that got a negative answer keeps it for `negative_ttl`
    (on average half of it past the fix). With serve-stale (RFC 8767) a client keeps its last good
    answer `serve_stale` longer and caches nothing negative. Averaged over the clients, an outage of
    length d, with x = d - serve_stale, is seen for (U uniform on [0, 1))
    ``E[(x - U ttl)+] + negative_ttl / 2 * P(x > U ttl)``, which is
    ``x - ttl/2 + negative_ttl/2`` once x >= ttl (the outage shows ttl/2 late and ends
    negative_ttl/2 late) and ``x^2 / (2 ttl) + negative_ttl/2 * x / ttl`` below.
    """

    ttl_s: float
    stale_s: float
    negative_tail_s: float

    @classmethod
    def of(cls, component: Component) -> DnsCaching | None:
        """The caching of a dns_record component, or None for other kinds."""
        if component.kind != "dns_record":
            return None
        # Unset TTLs as the simulator reads them (sim/dns.py): 300 s, and negative = positive.
        ttl = component.ttl if component.ttl is not None else DEFAULT_TTL_S
        negative = component.negative_ttl if component.negative_ttl is not None else ttl
        if component.serve_stale is not None:
            return cls(ttl, component.serve_stale, 0.0)
        return cls(ttl, 0.0, negative / 2)

    def visible(self, start_s: np.ndarray, duration_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) of each outage as the clients see it, on average; end <= start: unseen."""
        x = duration_s - self.stale_s
        ttl = self.ttl_s
        if ttl > 0:
            frac = np.clip(x / ttl, 0.0, 1.0)
            seen = np.where(
                x >= ttl, x - ttl / 2, np.maximum(x, 0.0) * frac / 2
            ) + self.negative_tail_s * frac
        else:
            seen = np.maximum(x, 0.0) + self.negative_tail_s * (x > 0)
        begin = start_s + self.stale_s + np.clip(x, 0.0, ttl) / 2
        return begin, begin + seen


@dataclass(frozen=True)
class FailureSource:
    """One independent source of outages: a component's own failures or a common-cause event."""

    name: str
    kind: str  # "component" or "common_cause"
    components: tuple[int, ...]  # ids of the components it fails
    profile: FailureProfile
    stream_key: str  # names its random stream: the same key draws the same outages (CRN)
    dns: DnsCaching | None = None

    @property
    def stream_id(self) -> int:
        """A stable 32-bit number for the random stream of this source."""
        return zlib.crc32(self.stream_key.encode("utf-8"))

    def to_dict(self, graph: CompiledGraph) -> dict[str, Any]:
        """JSON-ready form."""
        out = {"name": self.name, "kind": self.kind, **self.profile.to_dict()}
        if self.kind == "common_cause":
            out["components"] = [graph.names[i] for i in self.components]
        return out


# --- the catalog of defaults ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_defaults(path: str | None = None) -> dict[str, Any]:
    """The catalog of default profiles (validated), as plain data."""
    doc = read_document(path or DEFAULTS_PATH)
    data = doc.data
    if not isinstance(data, dict):
        raise AftershockError("failure defaults must be a mapping", file=doc.path, line=1)
    for section in ("kinds", "providers", "common_causes"):
        if not isinstance(data.get(section, {}), dict):
            line, col = doc.locate((section,))
            raise AftershockError(f"`{section}` must be a mapping", file=doc.path, line=line, column=col)
    for keys, entry in _default_entries(data):
        _profile_from_entry(entry, doc, keys)
    return {"doc": doc, **data}


def _default_entries(data: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    entries = [(("kinds", k), v) for k, v in data.get("kinds", {}).items()]
    for provider, kinds in data.get("providers", {}).items():
        entries += [(("providers", provider, k), v) for k, v in (kinds or {}).items()]
    for scope, table in data.get("common_causes", {}).items():
        entries += [(("common_causes", scope, k), v) for k, v in (table or {}).items()]
    return entries


def _profile_from_entry(entry: Any, doc: Document, keys: tuple[str, ...]) -> FailureProfile:
    line, col = doc.locate(keys)
    if not isinstance(entry, dict) or "source" not in entry or not str(entry["source"]).strip():
        raise AftershockError(
            "a default needs rate_per_year, duration {median, p90} and a `source`",
            file=doc.path, line=line, column=col,
            hint="every default must say where its figures come from",
        )
    try:
        failure = Failure.model_validate({k: v for k, v in entry.items() if k != "source"})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise AftershockError(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}", file=doc.path, line=line, column=col
        ) from None
    origin = "default " + ".".join(keys) + ": " + " ".join(str(entry["source"]).split())
    return _profile_of_failure(failure, origin)


def _profile_of_failure(failure: Failure, source: str) -> FailureProfile:
    if failure.duration is not None:
        return FailureProfile.lognormal(
            failure.rate_per_year, failure.duration.median, failure.duration.p90, source
        )
    assert failure.mean_duration is not None
    return FailureProfile(failure.rate_per_year, failure.mean_duration, 0.0, source)


def default_profile(kind: str, provider: str | None, defaults: dict[str, Any] | None = None) -> FailureProfile:
    """The catalog's profile for a component of this kind (and provider, when it has one)."""
    defaults = defaults or load_defaults()
    doc: Document = defaults["doc"]
    by_provider = defaults.get("providers", {}).get(provider or "", {}) or {}
    if kind in by_provider:
        return _profile_from_entry(by_provider[kind], doc, ("providers", provider or "", kind))
    kinds = defaults.get("kinds", {})
    key = kind if kind in kinds else "default"
    return _profile_from_entry(kinds[key], doc, ("kinds", key))


def default_common_cause_profile(cause: CommonCause, defaults: dict[str, Any] | None = None) -> FailureProfile:
    """The catalog's profile for a common cause without `failure`, by its narrowest scope."""
    defaults = defaults or load_defaults()
    doc: Document = defaults["doc"]
    scope, name = (
        ("zone", cause.zone) if cause.zone else ("region", cause.region) if cause.region
        else ("provider", cause.provider)
    )
    table = defaults.get("common_causes", {}).get(scope, {}) or {}
    candidates = [f"{cause.provider}/{name}", "default"]
    if scope == "provider":
        candidates.insert(1, str(cause.provider))  # a provider-wide figure, never a region's
    for key in candidates:
        if key in table:
            return _profile_from_entry(table[key], doc, ("common_causes", scope, key))
    raise AftershockError(
        f"the failure defaults have no `common_causes.{scope}.default`", file=doc.path,
        hint="add a default for this scope, or give the common cause a `failure:`",
    )


# --- profiles of a model -------------------------------------------------------------------------


def component_profile(component: Component, kind: str, defaults: dict[str, Any] | None = None) -> FailureProfile:
    """The profile of one component that can fail: the model's figures, else the catalog's."""
    provider = component.placement.provider if component.placement else None
    if component.failure is not None:
        return _profile_of_failure(component.failure, "model: failure")
    base = default_profile(kind, provider, defaults)
    if component.unavailability is not None:
        p = component.unavailability
        source = f"model: unavailability {p:g}, with the default duration ({base.source})"
        if p >= 1.0:
            return FailureProfile(0.0, base.mean_duration_s, base.sigma, source, always_failed=True)
        rate = -math.log1p(-p) / base.mean_duration_s * SECONDS_PER_YEAR
        return FailureProfile(rate, base.mean_duration_s, base.sigma, source)
    return base


def common_causes(model: Model) -> dict[str, tuple[CommonCause, Document | None]]:
    """The model's `common_causes:` entries from every file it is made of, with their documents."""
    return {
        name: (cause, origin.document if (origin := model.cause_origins.get(name)) else None)
        for name, cause in model.common_causes.items()
    }


def placed_in(component: Component, cause: CommonCause) -> bool:
    """Whether a component's placement lies inside the scope of a common cause."""
    where = component.placement
    if where is None:
        return False
    return all(
        want is None or want == have
        for want, have in ((cause.provider, where.provider), (cause.region, where.region), (cause.zone, where.zone))
    )


def failure_sources(
    graph: CompiledGraph,
    defaults: dict[str, Any] | None = None,
    stream_aliases: dict[str, str] | None = None,
) -> tuple[list[FailureSource], list[str]]:
    """Every independent source of outages in a compiled model, and notes on what was assumed.

    `stream_aliases` maps a component name to the stream key it should draw with (a what-if that
    renames a component keeps its random outages, so the comparison uses common random numbers).
    """
    defaults = defaults or load_defaults()
    aliases = stream_aliases or {}
    sources: list[FailureSource] = []
    notes: list[str] = []
    for i, (name, comp) in enumerate(zip(graph.names, graph.components, strict=True)):
        if not graph.can_fail[i]:
            continue
        profile = component_profile(comp, graph.kinds[i], defaults)
        if profile.rate_per_year <= 0 and not profile.always_failed:
            continue
        sources.append(
            FailureSource(name, "component", (i,), profile, "component:" + aliases.get(name, name),
                          DnsCaching.of(comp))
        )
    for name, (cause, doc) in common_causes(graph.model).items():
        hit = tuple(i for i, comp in enumerate(graph.components) if placed_in(comp, cause))
        if not hit:
            notes.append(f"common cause '{name}' matches no component's placement; it has no effect")
            continue
        try:
            profile = (
                _profile_of_failure(cause.failure, "model: common cause failure")
                if cause.failure is not None
                else default_common_cause_profile(cause, defaults)
            )
        except AftershockError as exc:
            if doc is not None:
                exc.file, (exc.line, exc.column) = doc.path, doc.locate(("common_causes", name))
            raise
        sources.append(FailureSource(name, "common_cause", hit, profile, "cause:" + name))
    defaulted = [s.name for s in sources if s.profile.source.startswith("default")]
    if defaulted:
        notes.append(
            f"{len(defaulted)} failure source(s) use catalog defaults: " + ", ".join(defaulted[:12])
            + (" ..." if len(defaulted) > 12 else "")
        )
    return sources, notes
