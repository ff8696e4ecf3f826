"""Exact fault-tree analysis: the public entry points.

`analyze_fault_tree` answers the usual questions of a `FaultTree` in one call: the exact
top-event probability, the minimal cut sets (counted exactly, filtered by order and probability,
listed most probable first) and the rare-event and min-cut-upper-bound approximations beside the
exact value. The pieces live in one module each:

- `analysis.fault_tree_model` — `FaultTree`, `Gate`, `Arg`, the checks, the errors;
- `analysis.bdd_order` — CUDD build and the race of variable orders;
- `analysis.bdd` — `FaultTreeBDD`: probability, Birnbaum derivatives, minimal cut sets;
- `analysis.zbdd` — the cut-set ZBDD: counts, approximations, listing.

The names are re-exported here, so `from aftershock.analysis.faulttree import ...` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aftershock.analysis.bdd import FaultTreeBDD
from aftershock.analysis.fault_tree_model import (
    DEFAULT_MAX_MEMORY,
    GATE_KINDS,
    Arg,
    ArgKind,
    FaultTree,
    FaultTreeError,
    Gate,
    ResourceLimitError,
    check_tree,
    find_gate_cycle,
)
from aftershock.analysis.zbdd import CutSets, CutSetStatistics

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "GATE_KINDS",
    "Arg",
    "ArgKind",
    "CutSetStatistics",
    "CutSets",
    "FaultTree",
    "FaultTreeAnalysis",
    "FaultTreeBDD",
    "FaultTreeError",
    "Gate",
    "ResourceLimitError",
    "analyze_fault_tree",
    "check_tree",
    "find_gate_cycle",
]


@dataclass
class FaultTreeAnalysis:
    """Exact top-event probability, minimal cut sets and the approximations beside the exact value.

    `probability` and the approximations are None when some basic event has no probability
    (a qualitative analysis). `cut_sets` holds at most `limit` sets, most probable first
    (smallest first when qualitative); `mcs_count` counts all of them.
    """

    top_event: str
    basic_events: int
    bdd_nodes: int
    probability: float | None
    mcs_count: int
    cut_sets: list[list[str]]
    cut_set_probabilities: list[float | None]
    rare_event: float | None
    mcub: float | None
    max_order: int | None
    cutoff: float
    largest_order: int
    missing_probabilities: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (see docs/reliability.md)."""
        return {
            "top_event": self.top_event,
            "probability": self.probability,
            "mcs_count": self.mcs_count,
            "cut_sets": self.cut_sets,
            "cut_set_probabilities": self.cut_set_probabilities,
            "approximations": {"rare_event": self.rare_event, "mcub": self.mcub},
            "limits": {"max_order": self.max_order, "cutoff": self.cutoff},
            "largest_order": self.largest_order,
            "basic_events": self.basic_events,
            "missing_probabilities": self.missing_probabilities,
            "bdd_nodes": self.bdd_nodes,
        }


def analyze_fault_tree(
    tree: FaultTree,
    *,
    max_order: int | None = None,
    cutoff: float = 0.0,
    limit: int = 20,
    max_memory: int = DEFAULT_MAX_MEMORY,
    bdd: FaultTreeBDD | None = None,
) -> FaultTreeAnalysis:
    """Probability (when every basic event has one), minimal cut sets and approximations."""
    if not 0.0 <= cutoff <= 1.0:
        raise FaultTreeError(f"cut-off {cutoff} is not a probability", hint="give a value in [0, 1]")
    if max_order is not None and max_order < 0:
        raise FaultTreeError(f"max order {max_order} is negative", hint="give 1 or more")
    bdd = bdd or FaultTreeBDD.build(tree, max_memory=max_memory)
    missing = tree.missing_probabilities()
    quantitative = not missing
    if cutoff > 0 and not quantitative:
        bdd.event_probabilities()  # raises, naming the events without a probability
    cut_sets = bdd.minimal_cut_sets(max_order, max_memory=max_memory)
    if quantitative:
        p = bdd.event_probabilities()
        probability: float | None = bdd.probability(p)
        keep = cutoff * (1.0 - 1e-12)  # 0.01**4 must pass a 1e-8 cut-off despite rounding
        stats = cut_sets.statistics(p, keep)
        count, rare, mcub = stats.count, stats.rare_event, stats.mcub
        listed = cut_sets.best(p, limit, keep) if limit > 0 else []
        sets, probs = [s for s, _ in listed], [q for _, q in listed]
    else:
        probability = rare = mcub = None
        count = cut_sets.count()
        # Every event at 1/2: "most probable first" becomes "smallest first".
        listed = cut_sets.best(np.full(len(bdd.events), 0.5), limit) if limit > 0 else []
        sets, probs = [s for s, _ in listed], [None] * len(listed)
    return FaultTreeAnalysis(
        top_event=tree.top,
        basic_events=len(bdd.events),
        bdd_nodes=bdd.node_count,
        probability=probability,
        mcs_count=count,
        cut_sets=sets,
        cut_set_probabilities=probs,
        rare_event=rare,
        mcub=mcub,
        max_order=max_order,
        cutoff=cutoff,
        largest_order=cut_sets.zbdd.max_order(cut_sets.root),
        missing_probabilities=len(missing),
    )
