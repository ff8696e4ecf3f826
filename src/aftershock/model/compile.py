"""Compile a validated `Model` into the one form every engine reads: integer ids and CSR arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from aftershock.model.load import Model
from aftershock.model.schema import Component


@dataclass(frozen=True)
class CSR:
    """Adjacency in compressed sparse row form: the neighbours of i are indices[indptr[i]:indptr[i+1]]."""

    indptr: np.ndarray
    indices: np.ndarray

    def row(self, i: int) -> np.ndarray:
        """Neighbours of node i."""
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def degree(self) -> np.ndarray:
        """Number of neighbours of every node."""
        return np.diff(self.indptr)

    @classmethod
    def from_lists(cls, rows: list[list[int]]) -> CSR:
        """Build from one list of neighbour ids per node."""
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        flat = [j for r in rows for j in r]
        return cls(indptr, np.asarray(flat, dtype=np.int64))

    def transpose(self, n: int) -> CSR:
        """The reverse adjacency (who points at node j)."""
        src = np.repeat(np.arange(n, dtype=np.int64), self.degree())
        order = np.argsort(self.indices, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=n), out=indptr[1:])
        return CSR(indptr, src[order])


@dataclass(frozen=True)
class Stage:
    """Nodes whose down state can be computed together: all they depend on is in earlier stages.

    A cyclic stage holds whole strongly connected components and is iterated to a fixpoint.
    """

    nodes: np.ndarray
    cyclic: bool


@dataclass(frozen=True, eq=False)
class CompiledGraph:
    """The model as arrays. Node i is `names[i]`; edges point from a component to what it depends on.

    - `requires`: hard dependencies; `uses`: soft ones; `members`: redundancy-group members, with
      `group_k[i]` members needed up (0: not a group; any_of is k = 1).
    - `can_fail[i]`: its own failure is a basic event; `unavailability[i]`: its probability, NaN if unknown.
    - `scc[i]`: strongly connected component of the hard graph (requires + members);
      `stages`: a topological schedule of the hard graph's condensation, dependencies first.
    """

    model: Model
    names: tuple[str, ...]
    index: dict[str, int]
    components: tuple[Component, ...]
    kinds: tuple[str, ...]
    requires: CSR
    uses: CSR
    members: CSR
    group_k: np.ndarray
    failover_s: np.ndarray
    can_fail: np.ndarray
    unavailability: np.ndarray
    revenue_per_hour: np.ndarray
    degraded_loss: np.ndarray
    ttl_s: np.ndarray
    negative_ttl_s: np.ndarray
    scc: np.ndarray
    stages: tuple[Stage, ...] = field(repr=False)

    @property
    def n(self) -> int:
        """Number of components."""
        return len(self.names)

    def ids(self, names: list[str] | tuple[str, ...] | set[str]) -> np.ndarray:
        """Integer ids of component names (KeyError names the unknown one)."""
        return np.asarray([self.index[n] for n in names], dtype=np.int64)

    @cached_property
    def topological_order(self) -> np.ndarray:
        """Every node, dependencies before dependents (members of a cycle are adjacent)."""
        if not self.stages:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([stage.nodes for stage in self.stages])

    @cached_property
    def hard(self) -> CSR:
        """Every edge the DOWN state travels along: requires and group members."""
        return union_edges(self.requires, self.members, self.n)

    @cached_property
    def dependents(self) -> CSR:
        """Reverse of `hard`: who depends on node j."""
        return self.hard.transpose(self.n)

    @cached_property
    def default_targets(self) -> list[str]:
        """Components a business cares about: those with `impact` or a `tier` tag."""
        return [
            c
            for c, comp in zip(self.names, self.components, strict=True)
            if comp.impact is not None or "tier" in comp.tags
        ]

    def hard_descendants(self, sources: np.ndarray) -> np.ndarray:
        """Bool mask of every node reachable from `sources` along hard edges (sources included)."""
        return reachable(self.hard, self.n, sources)

    def hard_ancestors(self, sources: np.ndarray) -> np.ndarray:
        """Bool mask of every node that reaches `sources` along hard edges (sources included)."""
        return reachable(self.dependents, self.n, sources)


def reachable(adj: CSR, n: int, sources: np.ndarray) -> np.ndarray:
    """Bool mask of the nodes reachable from `sources` along `adj` (vectorised breadth-first)."""
    seen = np.zeros(n, dtype=bool)
    frontier = np.unique(np.asarray(sources, dtype=np.int64))
    seen[frontier] = True
    while frontier.size:
        starts, ends = adj.indptr[frontier], adj.indptr[frontier + 1]
        lengths = ends - starts
        if not lengths.sum():
            break
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        nxt = adj.indices[offsets]
        nxt = np.unique(nxt[~seen[nxt]])
        seen[nxt] = True
        frontier = nxt
    return seen


def union_edges(a: CSR, b: CSR, n: int) -> CSR:
    """The edges of both adjacencies, without duplicates."""
    src = np.concatenate([np.repeat(np.arange(n), a.degree()), np.repeat(np.arange(n), b.degree())])
    dst = np.concatenate([a.indices, b.indices])
    from scipy.sparse import csr_matrix  # lazily, as in _schedule

    m = csr_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    return CSR(m.indptr.astype(np.int64), m.indices.astype(np.int64))


def compile_model(model: Model) -> CompiledGraph:
    """Build the `CompiledGraph` of a validated model (once; engines only read it)."""
    names = tuple(model.components)
    index = {name: i for i, name in enumerate(names)}
    comps = tuple(model.components.values())
    n = len(names)
    requires = CSR.from_lists([[index[d] for d in dict.fromkeys(c.requires)] for c in comps])
    uses = CSR.from_lists([[index[d] for d in dict.fromkeys(c.uses)] for c in comps])
    members, group_k = [], np.zeros(n, dtype=np.int64)
    for i, c in enumerate(comps):
        if c.any_of is not None:
            members.append([index[m] for m in c.any_of])
            group_k[i] = 1
        elif c.k_of_n is not None:
            members.append([index[m] for m in c.k_of_n.of])
            group_k[i] = c.k_of_n.k
        else:
            members.append([])
    member_csr = CSR.from_lists(members)

    def column(getter, default=np.nan) -> np.ndarray:
        return np.array(
            [(v if (v := getter(c)) is not None else default) for c in comps], dtype=float
        )

    hard = union_edges(requires, member_csr, n)
    scc, stages = _schedule(hard, n)
    return CompiledGraph(
        model=model,
        names=names,
        index=index,
        components=comps,
        kinds=tuple(c.kind or ("group" if c.is_group else "service") for c in comps),
        requires=requires,
        uses=uses,
        members=member_csr,
        group_k=group_k,
        failover_s=column(lambda c: c.failover, 0.0),
        can_fail=np.array([c.can_fail for c in comps], dtype=bool),
        unavailability=column(lambda c: c.own_unavailability),
        revenue_per_hour=column(lambda c: c.impact.revenue_per_hour if c.impact else None, 0.0),
        degraded_loss=column(lambda c: c.impact.degraded_loss if c.impact else None, 0.0),
        ttl_s=column(lambda c: c.ttl),
        negative_ttl_s=column(lambda c: c.negative_ttl),
        scc=scc,
        stages=stages,
    )


def _schedule(hard: CSR, n: int) -> tuple[np.ndarray, tuple[Stage, ...]]:
    """Strongly connected components and a level schedule of the condensation (dependencies first)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), ()
    # scipy is imported here, not at module level: `import aftershock` stays light for the
    # commands that never compile a graph (validate, schema, the DNS proxy).
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    m = csr_matrix(
        (np.ones(len(hard.indices), dtype=np.int8), hard.indices, hard.indptr), shape=(n, n)
    )
    n_comp, labels = connected_components(m, directed=True, connection="strong")
    labels = labels.astype(np.int64)
    src = np.repeat(np.arange(n), hard.degree())
    dst = hard.indices
    sizes = np.bincount(labels, minlength=n_comp)
    self_loop = np.zeros(n_comp, dtype=bool)
    self_loop[labels[src[src == dst]]] = True
    cyclic_comp = (sizes > 1) | self_loop
    # Condensation edges: component -> component it depends on.
    cross = labels[src] != labels[dst]
    csrc, cdst = labels[src[cross]], labels[dst[cross]]
    pairs = (
        np.unique(np.stack([csrc, cdst], axis=1), axis=0)
        if csrc.size
        else np.zeros((0, 2), np.int64)
    )
    csrc, cdst = pairs[:, 0], pairs[:, 1]
    # Level = 1 + level of deepest dependency, peeled frontier by frontier (Kahn, vectorised).
    remaining = np.bincount(csrc, minlength=n_comp)
    order = np.argsort(cdst, kind="stable")
    rev_ptr = np.zeros(n_comp + 1, dtype=np.int64)
    np.cumsum(np.bincount(cdst, minlength=n_comp), out=rev_ptr[1:])
    rev_src = csrc[order]
    level = np.full(n_comp, -1, dtype=np.int64)
    frontier = np.flatnonzero(remaining == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        starts, ends = rev_ptr[frontier], rev_ptr[frontier + 1]
        lengths = ends - starts
        if lengths.sum() == 0:
            break
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        parents = rev_src[offsets]
        np.subtract.at(remaining, parents, 1)
        cand = np.unique(parents)
        frontier = cand[remaining[cand] == 0]
        depth += 1
    node_level = level[labels]
    node_cyclic = cyclic_comp[labels]
    stages: list[Stage] = []
    by_level = np.argsort(node_level * 2 + node_cyclic, kind="stable")
    keys = (node_level * 2 + node_cyclic)[by_level]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    for chunk in np.split(by_level, bounds):
        if chunk.size:
            stages.append(Stage(nodes=chunk, cyclic=bool(node_cyclic[chunk[0]])))
    return labels, tuple(stages)
