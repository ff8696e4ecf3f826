"""Generate large realistic dependency models for benchmarks (layered, skewed fan-out, groups)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def generate_model(n: int, seed: int = 0) -> dict:
    """A model-v1 document with about `n` components.

    Layers, bottom up: regions and zones; provider services (each in a region); datastores and DNS
    records; services in several tiers, each requiring 1-4 components from lower layers with a
    Zipf-like preference for popular shared ones and using 0-2 more; 5% of services are replicated
    across regions behind an `any_of` group (some `k_of_n`); 2% are business targets with impact.
    """
    rng = np.random.default_rng(seed)
    comps: dict[str, dict] = {}
    regions = [f"region-{i}" for i in range(max(2, n // 10000))]
    for r in regions:
        comps[r] = {"kind": "region", "failure": {"rate_per_year": 0.5, "mean_duration": "4h"}}
    n_provider = max(10, n // 200)
    providers = []
    for i in range(n_provider):
        name = f"provider-{i}"
        comps[name] = {"kind": "provider_service", "requires": [regions[i % len(regions)]]}
        providers.append(name)
    n_data = n // 5
    lower = list(providers)
    for i in range(n_data):
        name = f"store-{i}"
        if i % 10 == 0:
            comps[name] = {
                "kind": "dns_record",
                "record": f"s{i}.example",
                "ttl": "60s",
                "requires": [lower[int(rng.integers(len(lower)))]],
            }
        else:
            deps = _pick(rng, lower, 1, 2)
            comps[name] = {"kind": "datastore", "requires": deps, "unavailability": 0.0005}
        lower.append(name)
    remaining = n - len(comps)
    tiers = 6
    per_tier = remaining // tiers + 1
    for tier in range(tiers):
        made = []
        for i in range(per_tier):
            if len(comps) >= n:
                break
            name = f"svc-{tier}-{i}"
            if i % 20 == 0 and len(comps) + 3 < n:
                replicas = []
                for r in range(2 + (i % 40 == 0)):
                    rep = f"{name}-r{r}"
                    comps[rep] = {"kind": "service", "requires": [regions[r % len(regions)]]}
                    replicas.append(rep)
                if len(replicas) == 3:
                    comps[name] = {"k_of_n": {"k": 2, "of": replicas}, "failover": "2m"}
                else:
                    comps[name] = {"any_of": replicas, "failover": "1m"}
            else:
                spec: dict = {"kind": "service", "requires": _pick(rng, lower, 1, 4)}
                uses = _pick(rng, lower, 0, 2)
                if uses:
                    spec["uses"] = uses
                if rng.random() < 0.02:
                    spec["impact"] = {"revenue_per_hour": float(rng.integers(1, 100) * 1000)}
                    spec["tags"] = {"tier": 1}
                comps[name] = spec
            made.append(name)
        lower.extend(made)
    return {"version": 1, "name": f"generated-{n}", "components": comps}


def _pick(rng: np.random.Generator, pool: list[str], low: int, high: int) -> list[str]:
    """Between low and high distinct names, skewed towards the most recently added layer."""
    k = int(rng.integers(low, high + 1))
    if k == 0:
        return []
    size = len(pool)
    # Mix of recent (same layer below) and popular shared ones (power law on index).
    idx = np.unique((size * (1 - rng.power(0.35 if rng.random() < 0.5 else 3.0, k))).astype(int))
    return [pool[min(int(j), size - 1)] for j in idx]


def write_model(n: int, path: Path, seed: int = 0) -> Path:
    """Write a generated model as JSON (the fast path of the loader) and return its path."""
    path.write_text(json.dumps(generate_model(n, seed)))
    return path
