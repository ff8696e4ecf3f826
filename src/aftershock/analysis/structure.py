"""Structural analysis: blast radius, single points of failure, hard cycles, criticality.

Every function takes a `CompiledGraph` and returns plain data. Single-failure questions for many
components at once are answered bit-parallel (`aftershock.analysis.propagation`): one pass over
the graph's condensation evaluates 64 failure scenarios per machine word, instead of one
breadth-first search per candidate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from aftershock.analysis.propagation import (
    WORD_BITS,
    propagate_degraded,
    propagate_down,
    scenario_bits,
    single_failures,
)
from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.compile import CompiledGraph, reachable, union_edges

# Memory for one block of single-failure scenarios: rows x words x 8 bytes.
BLOCK_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class BlastRadius:
    """What is down and degraded when `failed` fail together (down includes failed)."""

    failed: list[str]
    down: list[str]
    degraded: list[str]
    revenue_per_hour_down: float = 0.0
    revenue_per_hour_degraded: float = 0.0

    @property
    def revenue_per_hour_at_risk(self) -> float:
        """Revenue per hour lost: all of it where down, the degraded share where degraded."""
        return self.revenue_per_hour_down + self.revenue_per_hour_degraded

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "failed": self.failed,
            "down": self.down,
            "degraded": self.degraded,
            "revenue_per_hour_at_risk": self.revenue_per_hour_at_risk,
        }


@dataclass(frozen=True)
class Criticality:
    """One component ranked by what its failure alone takes down."""

    component: str
    revenue_per_hour_at_risk: float
    down_count: int
    degraded_count: int
    targets_down: list[str] = field(default_factory=list)


def resolve(graph: CompiledGraph, names: Iterable[str]) -> np.ndarray:
    """Ids of component names; an unknown name is an error with a did-you-mean."""
    ids = []
    for name in names:
        if name not in graph.index:
            raise AftershockError(
                f"no component named '{name}' in the model",
                file=graph.model.path,
                hint=did_you_mean(name, graph.names)
                or "`aftershock validate MODEL` lists components",
            )
        ids.append(graph.index[name])
    return np.asarray(ids, dtype=np.int64)


def blast_radius(graph: CompiledGraph, failed: Iterable[str]) -> BlastRadius:
    """Components DOWN and DEGRADED when the given components fail together.

    >>> from aftershock import compile_model, load_model_text
    >>> g = compile_model(load_model_text('''
    ... components:
    ...   db: {}
    ...   api: {requires: [db]}
    ...   web: {uses: [api]}
    ... '''))
    >>> blast_radius(g, ["db"]).down, blast_radius(g, ["db"]).degraded
    (['api', 'db'], ['web'])
    """
    ids = resolve(graph, failed)
    bits = np.zeros((graph.n, 1), dtype=np.uint64)
    bits[ids, 0] = 1
    down = propagate_down(graph, bits)
    degraded = propagate_degraded(graph, down)
    down_mask = down[:, 0].astype(bool)
    deg_mask = degraded[:, 0].astype(bool)
    names = np.asarray(graph.names, dtype=object)
    return BlastRadius(
        failed=sorted(graph.names[i] for i in set(ids.tolist())),
        down=sorted(names[down_mask].tolist()),
        degraded=sorted(names[deg_mask].tolist()),
        revenue_per_hour_down=float(graph.revenue_per_hour[down_mask].sum()),
        revenue_per_hour_degraded=float(
            (graph.revenue_per_hour * graph.degraded_loss)[deg_mask].sum()
        ),
    )


def _blocks(graph: CompiledGraph, candidates: np.ndarray) -> Iterable[np.ndarray]:
    """Split candidates into blocks whose scenario matrix fits in BLOCK_BYTES."""
    per_block = max(WORD_BITS, (BLOCK_BYTES // max(graph.n * 8, 1)) * WORD_BITS)
    for start in range(0, len(candidates), per_block):
        yield candidates[start : start + per_block]


def single_points_of_failure(graph: CompiledGraph, target: str) -> list[str]:
    """Components that can fail by themselves and whose failure alone takes `target` down.

    The target itself is not listed; redundancy groups and cycles are respected.

    >>> from aftershock import compile_model, load_model_text
    >>> g = compile_model(load_model_text('''
    ... components:
    ...   a: {}
    ...   b: {}
    ...   lb: {any_of: [a, b]}
    ...   dns: {kind: dns_record, record: x.example}
    ...   web: {requires: [lb, dns]}
    ... '''))
    >>> single_points_of_failure(g, "web")
    ['dns']
    """
    return all_single_points_of_failure(graph, [target])[target]


def all_single_points_of_failure(
    graph: CompiledGraph, targets: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """SPOFs of every target (default: components with `impact` or a `tier` tag).

    Candidates are the components that can fail and lie below some target; each block of up to
    millions of candidates is evaluated in one bit-parallel pass, so the cost is
    O(edges x candidates / 64) word operations rather than one graph search per candidate.
    """
    target_names = list(graph.default_targets if targets is None else targets)
    target_ids = resolve(graph, target_names)
    result: dict[str, list[str]] = {t: [] for t in target_names}
    if not len(target_ids):
        return result
    below = graph.hard_descendants(target_ids)
    candidates = np.flatnonzero(below & graph.can_fail)
    names = np.asarray(graph.names, dtype=object)
    hits: dict[int, list[np.ndarray]] = {int(t): [] for t in target_ids}
    for block in _blocks(graph, candidates):
        down = propagate_down(graph, single_failures(block, graph.n))
        rows = scenario_bits(down[target_ids], len(block))
        for t, row in zip(target_ids, rows, strict=True):
            hits[int(t)].append(block[row])
    for name, t in zip(target_names, target_ids, strict=True):
        ids = np.concatenate(hits[int(t)]) if hits[int(t)] else np.zeros(0, dtype=np.int64)
        result[name] = sorted(names[ids[ids != t]].tolist())
    return result


def hard_cycles(graph: CompiledGraph) -> list[list[str]]:
    """Cycles of hard dependencies (recovery-deadlock risks), each as its sorted members.

    Edges are `requires` and the members of groups that need every member; an `any_of` group can be
    held up by another member, so it does not close a hard cycle. A self-dependency is a cycle of one.

    >>> from aftershock import compile_model, load_model_text
    >>> hard_cycles(compile_model(load_model_text("components: {a: {requires: [b]}, b: {requires: [a]}}")))
    [['a', 'b']]
    """
    n = graph.n
    if n == 0:
        return []
    size = graph.members.degree()
    all_needed = (graph.group_k > 0) & (graph.group_k == size)
    src = np.concatenate(
        [
            np.repeat(np.arange(n), graph.requires.degree()),
            np.repeat(np.arange(n), np.where(all_needed, size, 0)),
        ]
    )
    dst = np.concatenate(
        [graph.requires.indices, graph.members.indices[np.repeat(all_needed, size)]]
    )
    m = csr_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    _, labels = connected_components(m, directed=True, connection="strong")
    counts = np.bincount(labels)
    cyclic = counts[labels] > 1
    cyclic[src[(src == dst)]] = True
    groups: dict[int, list[str]] = {}
    for i in np.flatnonzero(cyclic):
        groups.setdefault(int(labels[i]), []).append(graph.names[i])
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def criticality(graph: CompiledGraph, top: int | None = None) -> list[Criticality]:
    """Components ranked by the revenue per hour their failure alone takes down (or degrades).

    Only components whose failure can reach something with revenue are ranked. Revenue at risk is
    computed for every candidate bit-parallel; the full blast radius (counts and
    targets hit) only for the ranked ones, so `top=10` on a 100k-component model stays cheap.
    """
    valued = np.flatnonzero(graph.revenue_per_hour > 0)
    # Only a failure below something valued (through hard or soft edges) can put revenue at risk.
    below_valued = reachable(union_edges(graph.hard, graph.uses, graph.n), graph.n, valued)
    candidates = np.flatnonzero(graph.can_fail & below_valued)
    down_rev = graph.revenue_per_hour[valued]
    deg_rev = (graph.revenue_per_hour * graph.degraded_loss)[valued]
    at_risk = np.zeros(len(candidates))
    start = 0
    for block in _blocks(graph, candidates):
        if len(valued):
            down = propagate_down(graph, single_failures(block, graph.n))
            degraded = propagate_degraded(graph, down)
            at_risk[start : start + len(block)] = down_rev @ scenario_bits(
                down[valued], len(block)
            ) + deg_rev @ scenario_bits(degraded[valued], len(block))
        start += len(block)
    order = np.lexsort((np.asarray(graph.names, dtype=object)[candidates], -at_risk))
    if top is not None and len(order) > top:
        # Keep the ties at the cut so the tie-break by blast size below sees all of them.
        cut = at_risk[order[top - 1]] if top > 0 else np.inf
        order = order[(at_risk[order] >= cut)][: max(5 * top, 100)]
    ranked = []
    for j in order:
        blast = blast_radius(graph, [graph.names[candidates[j]]])
        down = set(blast.down)
        ranked.append(
            Criticality(
                component=graph.names[candidates[j]],
                revenue_per_hour_at_risk=float(at_risk[j]),
                down_count=len(blast.down),
                degraded_count=len(blast.degraded),
                targets_down=[t for t in graph.default_targets if t in down],
            )
        )
    ranked.sort(key=lambda c: (-c.revenue_per_hour_at_risk, -c.down_count, c.component))
    return ranked[:top] if top is not None else ranked


def dependency_path(graph: CompiledGraph, source: str, target: str) -> list[str]:
    """A shortest chain of hard dependencies from `source` down to `target` ([] if none).

    It explains a SPOF by naming every hop between the target and it.

    >>> from aftershock import compile_model, load_model_text
    >>> g = compile_model(load_model_text('''
    ... components:
    ...   dns: {}
    ...   db: {requires: [dns]}
    ...   web: {requires: [db]}
    ... '''))
    >>> dependency_path(g, "web", "dns")
    ['web', 'db', 'dns']
    """
    start, goal = resolve(graph, [source, target])
    parent = {int(start): -1}
    frontier = [int(start)]
    while frontier and int(goal) not in parent:
        nxt = []
        for node in frontier:
            for dep in graph.hard.row(node):
                if int(dep) not in parent:
                    parent[int(dep)] = node
                    nxt.append(int(dep))
        frontier = nxt
    if int(goal) not in parent:
        return []
    path, node = [], int(goal)
    while node != -1:
        path.append(graph.names[node])
        node = parent[node]
    return path[::-1]
