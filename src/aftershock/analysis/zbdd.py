"""Families of minimal cut sets held as zero-suppressed BDDs (Minato 1993).

`Zbdd` is a hash-consed node store with Rauzy's subsumption removal (`without`), the operation
the minimal-cut-set construction in `analysis.bdd` needs. `CutSets` wraps one family: exact
count (Python integers, however many sets), the rare-event and min-cut-upper-bound sums over the
sets kept by a probability cut-off, and best-first listing.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

# Below this many cut sets, sums whose series would converge slowly are taken set by set.
_ENUMERATE_UP_TO = 200_000
# A Python ZBDD node (three list slots, a unique-table entry) and its share of the memo tables
# (up to two entries a node) cost about this much.
ZBDD_NODE_BYTES = 600


@dataclass
class CutSets:
    """A family of minimal cut sets held as a ZBDD over the BDD's variables."""

    events: list[str]
    zbdd: Zbdd
    root: int
    max_order: int | None

    def count(self) -> int:
        """Exact number of cut sets (a Python int: no overflow however many)."""
        return self.zbdd.count(self.root)

    def is_empty(self) -> bool:
        """No cut set at all (the top event cannot occur)."""
        return self.root == 0

    def statistics(self, p: np.ndarray, cutoff: float = 0.0) -> CutSetStatistics:
        """Count, rare-event and MCUB sums over the cut sets whose probability is >= cutoff."""
        z = self.zbdd
        maxp, minp = z.extreme_products(p)
        if self.root == 0:
            return CutSetStatistics(0, 0.0, 0.0, 0)
        top_q = maxp[self.root]
        if cutoff > 0 and top_q < cutoff:
            return CutSetStatistics(0, 0.0, 0.0, 0)
        largest = z.max_order(self.root)
        if 0.5 < top_q < 1.0 and self.count() <= _ENUMERATE_UP_TO:
            # The series converges slowly near 1: few enough sets to sum them one by one.
            qs = [q for _, q in z.best_first(self.root, p, cutoff)]
            rare = math.fsum(qs)
            mcub = -math.expm1(math.fsum(math.log1p(-q) for q in qs))
            return CutSetStatistics(len(qs), rare, mcub, largest)
        terms = _series_terms(min(top_q, 1.0))
        if cutoff <= 0:
            count = self.count()
            sums = z.power_sums(p, terms)[self.root]
        else:
            count, sums = _pruned_sums(z, self.root, p, cutoff, maxp, minp, terms)
        return CutSetStatistics(count, float(sums[0]), _mcub(sums, top_q), largest)

    def best(self, p: np.ndarray, limit: int, cutoff: float = 0.0) -> list[tuple[list[str], float]]:
        """The `limit` most probable cut sets with probability >= cutoff, most probable first."""
        out = []
        for vars_, q in self.zbdd.best_first(self.root, p, cutoff):
            out.append(([self.events[v] for v in vars_], q))
            if len(out) >= limit:
                break
        return out

    def all(self) -> Iterator[list[str]]:
        """Every cut set (depth first); use `count()` before listing a large family."""
        for vars_ in self.zbdd.iterate(self.root):
            yield [self.events[v] for v in vars_]


@dataclass(frozen=True)
class CutSetStatistics:
    """Sums over the cut sets kept by a cut-off."""

    count: int
    rare_event: float
    mcub: float
    max_order: int


# ---------------------------------------------------------------------------------------------
# ZBDD of families of sets (Minato 1993). Node 0 is the empty family, node 1 the family {{}}.
# Children are always created before their parents, so node ids are a topological order.

_TERMINAL_VAR = 1 << 62


class Zbdd:
    """A zero-suppressed BDD store: hash-consed nodes and the operations cut sets need."""

    def __init__(self, max_nodes: int) -> None:
        self.var: list[int] = [_TERMINAL_VAR, _TERMINAL_VAR]
        self.hi: list[int] = [0, 0]
        self.lo: list[int] = [0, 0]
        self.unique: dict[tuple[int, int, int], int] = {}
        self.without_memo: dict[int, int] = {}
        self.has_empty: list[bool] = [False, True]
        self.max_nodes = max_nodes
        self._extremes: tuple[bytes, tuple[list[float], list[float]]] | None = None
        self.node, self.without = self._operations()

    def _operations(self):
        """`node` and `without` as closures over the node lists (the hot loop of cut sets)."""
        var, hi_, lo_, has_empty = self.var, self.hi, self.lo, self.has_empty
        unique, memo, max_nodes = self.unique, self.without_memo, self.max_nodes
        max_memo = 2 * max_nodes
        shift = 1 << 32

        def node(v: int, hi: int, lo: int) -> int:
            """The node {v} x hi + lo, zero-suppressed and shared."""
            if hi == 0:
                return lo
            key = (v, hi, lo)
            found = unique.get(key)
            if found is not None:
                return found
            i = len(var)
            if i >= max_nodes:
                raise MemoryError
            var.append(v)
            hi_.append(hi)
            lo_.append(lo)
            has_empty.append(has_empty[lo])
            unique[key] = i
            return i

        def without(p: int, q: int) -> int:
            """Sets of p that contain no set of q (Rauzy's subsumption removal)."""
            if p <= 1:
                return 0 if p == 0 or has_empty[q] else 1
            vp = var[p]
            vq = var[q]
            while vq < vp:  # sets of q holding a variable p never has cannot be inside p's
                q = lo_[q]
                vq = var[q]
            if q <= 1:
                return p if q == 0 else 0
            if p == q:
                return 0
            key = p * shift + q
            r = memo.get(key)
            if r is not None:
                return r
            # The recursive calls, with the answer for p <= 1 written out (a third of them).
            if vp < vq:
                a = hi_[p]
                h = without(a, q) if a > 1 else 0 if a == 0 or has_empty[q] else 1
                a = lo_[p]
                lo = without(a, q) if a > 1 else 0 if a == 0 or has_empty[q] else 1
            else:
                qlo, qhi = lo_[q], hi_[q]
                a = hi_[p]
                h = without(a, qhi) if a > 1 else 0 if a == 0 or has_empty[qhi] else 1
                h = without(h, qlo) if h > 1 else 0 if h == 0 or has_empty[qlo] else 1
                a = lo_[p]
                lo = without(a, qlo) if a > 1 else 0 if a == 0 or has_empty[qlo] else 1
            if h == 0:
                r = lo
            else:
                # node(vp, h, lo), written out: this is the hot loop of the cut-set step
                nkey = (vp, h, lo)
                r = unique.get(nkey)
                if r is None:
                    r = len(var)
                    if r >= max_nodes:
                        raise MemoryError
                    var.append(vp)
                    hi_.append(h)
                    lo_.append(lo)
                    has_empty.append(has_empty[lo])
                    unique[nkey] = r
            if len(memo) >= max_memo:
                raise MemoryError
            memo[key] = r
            return r

        return node, without

    def attach(self, front: int, rest: Callable[[int], int], lo: int, limit: int | None = None) -> int:
        """{A + B : A in front, B in rest(|A|), |A| <= limit (None: any)} + lo.

        Every variable of `front` comes before every variable of the rest and of lo, and `front`
        does not hold the empty set: a module's cut sets in front of the rest of a cut set.
        `rest(a)` is the family that may follow a set of a elements (smaller when an order
        limit applies).
        """
        memo: dict[tuple[int, int, int], int] = {}
        var, hi_, lo_, node = self.var, self.hi, self.lo, self.node
        count = limit is not None

        def rec(n: int, taken: int, tail: int) -> int:
            if n == 0:
                return tail
            if n == 1:
                if tail != 0:
                    raise ValueError("the family in front holds the empty set")
                return rest(taken)
            if count and taken > limit:
                return 0  # (only below a high edge, where tail is 0) every set is too large
            key = (n, taken, tail)
            r = memo.get(key)
            if r is None:
                r = node(var[n], rec(hi_[n], taken + 1 if count else 0, 0), rec(lo_[n], taken, tail))
                memo[key] = r
            return r

        return rec(front, 0, lo)

    def compacted(self, root: int) -> tuple[Zbdd, int]:
        """A store holding only the nodes under root, and root's id in it.

        Building the cut sets leaves most nodes of the store unreachable (intermediate results
        of `without`: 15 of 16 on edfpa15p); every later pass walks the whole store.
        """
        seen = {0, 1}
        stack = [root]
        hi, lo = self.hi, self.lo
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.append(hi[n])
                stack.append(lo[n])
        out = Zbdd(self.max_nodes)
        new_id = {0: 0, 1: 1}
        var = self.var
        for n in sorted(seen - {0, 1}):  # ids are a topological order: children first
            new_id[n] = len(out.var)
            out.var.append(var[n])
            out.hi.append(new_id[hi[n]])
            out.lo.append(new_id[lo[n]])
            out.has_empty.append(out.has_empty[new_id[lo[n]]])
            out.unique[(var[n], new_id[hi[n]], new_id[lo[n]])] = new_id[n]
        return out, new_id[root]

    def count(self, root: int) -> int:
        """Number of sets under root, exactly."""
        return self.counts(root)[root]

    def counts(self, last: int | None = None) -> list[int]:
        """Exact number of sets under every node up to `last` (default: every node)."""
        counts = [0, 1]
        lo, hi = self.lo, self.hi
        for i in range(2, len(self.var) if last is None else last + 1):
            counts.append(counts[lo[i]] + counts[hi[i]])
        return counts

    def max_order(self, root: int) -> int:
        """Size of the largest set under root (0 for the empty family or {{}})."""
        best = [0, 0]
        lo, hi = self.lo, self.hi
        for i in range(2, root + 1):
            a, b = best[lo[i]], best[hi[i]] + 1
            best.append(a if a > b else b)
        return best[root] if root > 1 else 0

    def extreme_products(self, p: np.ndarray) -> tuple[list[float], list[float]]:
        """Largest and smallest product of probabilities over the sets under each node."""
        key = np.asarray(p, dtype=float).tobytes()
        if self._extremes is not None and self._extremes[0] == key:
            return self._extremes[1]
        q = np.asarray(p, dtype=float).tolist()
        maxp = [0.0, 1.0]
        minp = [math.inf, 1.0]
        var, lo, hi = self.var, self.lo, self.hi
        for i in range(2, len(var)):
            w = q[var[i]]
            a, b = maxp[lo[i]], w * maxp[hi[i]]
            maxp.append(a if a > b else b)
            a, b = minp[lo[i]], w * minp[hi[i]]
            minp.append(a if a < b else b)
        self._extremes = (key, (maxp, minp))
        return maxp, minp

    def power_sums(self, p: np.ndarray, terms: int) -> np.ndarray:
        """S[i, k-1] = sum over sets C under node i of P(C)**k, k = 1..terms."""
        n = len(self.var)
        sums = np.zeros((n, terms), dtype=float)
        sums[1] = 1.0
        if n <= 2:
            return sums
        var = np.asarray(self.var[2:], dtype=np.int64)
        hi = np.asarray(self.hi[2:], dtype=np.int64)
        lo = np.asarray(self.lo[2:], dtype=np.int64)
        powers = np.power.outer(np.asarray(p, dtype=float), np.arange(1, terms + 1))
        for group in _zbdd_heights(hi, lo):
            ids = group + 2
            sums[ids] = sums[lo[group]] + powers[var[group]] * sums[hi[group]]
        return sums

    def best_first(self, root: int, p: np.ndarray, cutoff: float = 0.0) -> Iterator[tuple[list[int], float]]:
        """Sets under root with probability >= cutoff, most probable first (A* on max products).

        Among equal bounds the latest pushed comes first, so the search dives to a set instead of
        widening over every tie (Aralia trees give every event the same probability).
        """
        if root == 0:
            return
        maxp, _ = self.extreme_products(p)
        q_of = np.asarray(p, dtype=float).tolist()
        var, lo, hi = self.var, self.lo, self.hi
        seq = 0
        heap: list[tuple[float, int, int, float, tuple]] = [(-maxp[root], seq, root, 1.0, ())]
        while heap:
            _, _, node, prod, path = heapq.heappop(heap)
            if node == 1:
                yield _unlink(path), prod
                continue
            child = lo[node]
            if child != 0 and prod * maxp[child] >= cutoff:
                seq -= 1
                heapq.heappush(heap, (-prod * maxp[child], seq, child, prod, path))
            child, v = hi[node], var[node]
            q = prod * q_of[v]
            if child != 0 and q * maxp[child] >= cutoff:
                seq -= 1
                heapq.heappush(heap, (-q * maxp[child], seq, child, q, (v, path)))

    def iterate(self, root: int) -> Iterator[list[int]]:
        """Every set under root, depth first."""
        stack: list[tuple[int, tuple]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            if node == 0:
                continue
            if node == 1:
                yield _unlink(path)
                continue
            stack.append((self.lo[node], path))
            stack.append((self.hi[node], (self.var[node], path)))


def _unlink(path: tuple) -> list[int]:
    out = []
    while path:
        out.append(path[0])
        path = path[1]
    out.reverse()
    return out


def _zbdd_heights(hi: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    """Non-terminal nodes (offset by 2) grouped so each group only needs earlier groups."""
    n = len(hi)
    h = [0] * (n + 2)
    hl, ll = hi.tolist(), lo.tolist()
    for i in range(n):
        a, b = h[hl[i]], h[ll[i]]
        h[i + 2] = (a if a > b else b) + 1
    height = np.asarray(h[2:], dtype=np.int64)
    order = np.argsort(height, kind="stable")
    bounds = np.flatnonzero(np.diff(height[order])) + 1
    return np.split(order, bounds)


def _series_terms(max_q: float) -> int:
    """Terms of -log(1 - q) = sum q^k / k needed for double precision when q <= max_q."""
    if not 0.0 < max_q < 1.0:
        return 1
    return int(min(4096, max(1, math.ceil(math.log(1e-17) / math.log(max_q)))))


def _mcub(sums: np.ndarray, max_q: float) -> float:
    """1 - prod(1 - P(C)) from the power sums S_k = sum P(C)^k."""
    if max_q >= 1.0:
        return 1.0
    k = np.arange(1, len(sums) + 1, dtype=float)
    log_keep = -float(np.sum(sums / k))
    return float(-math.expm1(log_keep))


def _pruned_sums(z: Zbdd, root: int, p: np.ndarray, cutoff: float, maxp: list[float],
                 minp: list[float], terms: int) -> tuple[int, np.ndarray]:
    """Count and power sums over the sets with probability >= cutoff, exploring only nodes whose
    sets straddle the cut-off (whole sub-families are taken or dropped at once)."""
    sums_all = z.power_sums(p, terms)
    counts = z.counts()
    kk = np.arange(1, terms + 1)
    total = 0
    acc = np.zeros(terms, dtype=float)
    stack = [(root, 1.0)]
    while stack:
        node, prod = stack.pop()
        if node == 0 or prod * maxp[node] < cutoff:
            continue
        if prod * minp[node] >= cutoff:
            total += counts[node]
            acc += np.power(prod, kk) * sums_all[node]
            continue
        stack.append((z.lo[node], prod))
        stack.append((z.hi[node], prod * float(p[z.var[node]])))
    return total, acc
