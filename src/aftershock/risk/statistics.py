"""Mergeable summaries of per-trial figures: mean with its standard error, quantiles with intervals.

Chunks of trials are summarised where they run and merged in chunk order, so the result does not
depend on how many workers ran them. Quantiles come from a fixed logarithmic histogram
(200 bins per decade, 1e-6 to 1e12: a bin is 1.2% wide, interpolation inside it keeps the error
well under the Monte Carlo noise); means and variances from exact sums.

Confidence intervals (95% by default): the mean's is normal, mean +- z * s / sqrt(N); a quantile's
is distribution-free, between the order statistics of ranks N q -+ z sqrt(N q (1 - q))
(the normal approximation to the binomial; Hahn & Meeker, Statistical Intervals, sec. 5.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BINS_PER_DECADE = 200
LOG10_LOW, LOG10_HIGH = -6, 12
EDGES = 10.0 ** np.linspace(LOG10_LOW, LOG10_HIGH, (LOG10_HIGH - LOG10_LOW) * BINS_PER_DECADE + 1)
Z95 = 1.959963984540054
QUANTILES = (0.5, 0.9, 0.95, 0.99)


@dataclass
class Moments:
    """Count, sum and sum of squares of a figure (values may be negative): mean and its error."""

    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """Moments of the values."""
        values = np.asarray(values, dtype=float)
        return cls(int(values.size), float(values.sum()), float(np.square(values).sum()))

    def merge(self, other: Moments) -> Moments:
        """Moments of both sets of values."""
        return Moments(self.count + other.count, self.total + other.total, self.total_sq + other.total_sq)

    @property
    def mean(self) -> float:
        """Sample mean (0 when empty)."""
        return self.total / self.count if self.count else 0.0

    @property
    def stderr(self) -> float:
        """Standard error of the mean."""
        if self.count < 2:
            return 0.0
        var = max(self.total_sq - self.count * self.mean**2, 0.0) / (self.count - 1)
        return math.sqrt(var / self.count)

    def mean_ci(self, z: float = Z95) -> tuple[float, float]:
        """Confidence interval of the mean."""
        return self.mean - z * self.stderr, self.mean + z * self.stderr


@dataclass
class Distribution:
    """The values of one non-negative figure over many trials, summarised so that it merges."""

    moments: Moments = field(default_factory=Moments)
    zeros: int = 0
    bins: np.ndarray = field(default_factory=lambda: np.zeros(len(EDGES) + 1, np.int64))
    maximum: float = 0.0
    integer: bool = False
    minimum: float = math.inf  # smallest positive value (bounds the interpolation, with maximum)

    @classmethod
    def of(cls, values: np.ndarray, integer: bool = False) -> Distribution:
        """Summary of the values (negative values are not allowed)."""
        values = np.asarray(values, dtype=float)
        positive = values[values > 0]
        # bins[0]: (0, 1e-6); bins[i]: [EDGES[i-1], EDGES[i]); bins[-1]: >= 1e12
        bins = np.bincount(np.searchsorted(EDGES, positive, side="right"), minlength=len(EDGES) + 1)
        return cls(Moments.of(values), int(values.size - positive.size), bins.astype(np.int64),
                   float(values.max()) if values.size else 0.0, integer,
                   float(positive.min()) if positive.size else math.inf)

    def merge(self, other: Distribution) -> Distribution:
        """Summary of both sets of values."""
        return Distribution(self.moments.merge(other.moments), self.zeros + other.zeros,
                            self.bins + other.bins, max(self.maximum, other.maximum), self.integer,
                            min(self.minimum, other.minimum))

    @property
    def count(self) -> int:
        """Number of trials."""
        return self.moments.count

    @property
    def mean(self) -> float:
        """Mean over trials."""
        return self.moments.mean

    def value_at_rank(self, rank: float) -> float:
        """The value of (continuous, 0-based) rank `rank` among the sorted trials."""
        n = self.count
        if n == 0:
            return 0.0
        rank = min(max(rank, 0.0), n - 1.0)
        if rank < self.zeros:
            return 0.0
        cum = self.zeros + np.cumsum(self.bins)
        i = int(np.searchsorted(cum, rank, side="right"))
        if i >= len(self.bins) - 1:
            return self.maximum
        before = cum[i - 1] if i > 0 else self.zeros
        inside = (rank - before) / max(self.bins[i], 1)
        low = max(EDGES[i - 1] if i > 0 else 0.0, self.minimum)
        high = min(EDGES[i], self.maximum) if i < len(EDGES) else self.maximum
        value = low * (high / low) ** inside if low > 0 and high > low else low + (high - low) * inside
        value = min(value, self.maximum)
        return float(round(value)) if self.integer else float(value)

    def quantile(self, q: float) -> float:
        """The q-quantile of the values."""
        return self.value_at_rank(q * (self.count - 1))

    def quantile_ci(self, q: float, z: float = Z95) -> tuple[float, float]:
        """Distribution-free confidence interval of the q-quantile."""
        n = self.count
        half = z * math.sqrt(n * q * (1 - q))
        return self.value_at_rank(math.floor(n * q - half) - 1), self.value_at_rank(math.ceil(n * q + half) - 1)

    def exceedance(self, points: int = 60) -> list[dict[str, float]]:
        """P(value > x) at up to `points` log-spaced x between the smallest bin used and the maximum."""
        n = self.count
        used = np.flatnonzero(self.bins[1:-1])
        if n == 0 or used.size == 0:
            return []
        lo, hi = EDGES[used[0]], max(self.maximum, EDGES[used[0]] * 1.0001)
        xs = np.geomspace(lo, hi, points)
        cum = self.zeros + self.bins[0] + np.concatenate([[0], np.cumsum(self.bins[1:-1])])
        at = np.searchsorted(EDGES, xs, side="right")
        above = n - cum[np.clip(at, 0, len(cum) - 1)]
        return [{"value": float(x), "probability": float(p / n)} for x, p in zip(xs, above, strict=True)]

    def histogram(self, per_decade: int = 10) -> dict[str, list[float]]:
        """A coarse histogram for plotting: zero count, then log bins (`edges`, `counts`)."""
        step = BINS_PER_DECADE // per_decade
        inner = self.bins[1:-1]
        coarse = np.add.reduceat(inner, np.arange(0, len(inner), step))
        used = np.flatnonzero(coarse)
        if used.size == 0:
            return {"zero": self.zeros, "edges": [], "counts": []}
        a, b = used[0], used[-1] + 1
        edges = EDGES[::step][a : b + 1]
        return {"zero": self.zeros, "edges": [float(e) for e in edges],
                "counts": [int(c) for c in coarse[a:b]]}

    def to_dict(self, z: float = Z95) -> dict[str, object]:
        """Mean and quantiles with their confidence intervals."""
        out: dict[str, object] = {"mean": self.mean}
        out.update({f"p{round(q * 100)}": self.quantile(q) for q in QUANTILES})
        out["max"] = self.maximum
        out["stderr"] = self.moments.stderr
        ci = {"mean": list(self.moments.mean_ci(z))}
        ci.update({f"p{round(q * 100)}": list(self.quantile_ci(q, z)) for q in QUANTILES})
        out["ci95"] = ci
        return out
