"""A third opinion on small cut sets: evaluate a fault tree directly on every set of few events.

When our count of minimal cut sets of order <= k and a limited SCRAM run disagree, neither tool
can referee. This module does, by definition and without a BDD: it evaluates the tree on every
set S of at most k basic events (S failed, every other event working), bit-parallel over the
sets, and counts the minimal ones (the top event occurs for S and for no proper subset of S).
For non-coherent trees that is exactly the definition both tools state (a cut set drops the
negative literals). Cost: C(n, <=k) evaluations of every gate; das9701 (267 events, k = 3:
3.2 million sets, 2,226 gates) takes a few seconds.

    python bench/small_cut_sets.py FILE.xml [--order 3]
"""

from __future__ import annotations

import argparse
import sys
from itertools import chain, combinations
from math import comb
from pathlib import Path

import numpy as np

from aftershock.analysis.fault_tree_model import Arg, FaultTree


def sets_up_to(n: int, order: int) -> list[np.ndarray]:
    """Every set of 0..order of n events: one (count, size) index array per size."""
    return [np.fromiter(chain.from_iterable(combinations(range(n), size)), dtype=np.int32,
                        count=comb(n, size) * size).reshape(comb(n, size), size)
            for size in range(order + 1)]


def top_occurs(tree: FaultTree, members: list[np.ndarray]) -> np.ndarray:
    """For every set in `members` (concatenated over sizes): does the top event occur?"""
    events = list(tree.basic_events)
    total = sum(len(m) for m in members)
    # Event i failed in set j: bit j of row i, 8 sets a byte (gates are bitwise operations),
    # set in place (an unpacked bool matrix of das9701 at order 3 would take 850 MB).
    packed = np.zeros((len(events), (total + 7) // 8), dtype=np.uint8)
    start = 0
    for block in members:
        rows = start + np.arange(len(block))
        bit = (128 >> (rows & 7)).astype(np.uint8)  # np.packbits' order: first set, high bit
        for column in block.T:
            np.bitwise_or.at(packed, (column, rows >> 3), bit)
        start += len(block)
    index = {name: i for i, name in enumerate(events)}
    values: dict[str, np.ndarray] = {}
    plan = tree.postorder()
    last_use = _last_use(tree, plan)

    def value(arg: Arg) -> np.ndarray:
        if arg.kind == "basic":
            return packed[index[arg.name]]
        if arg.kind == "house":
            return np.full(packed.shape[1], 255 if tree.house_events[arg.name] else 0, np.uint8)
        return values[arg.name]

    for step, name in enumerate(plan):
        gate = tree.gates[name]
        args = [value(a) for a in gate.args]
        if gate.kind in ("and", "nand"):
            out = np.bitwise_and.reduce(args)
        elif gate.kind in ("or", "nor"):
            out = np.bitwise_or.reduce(args)
        elif gate.kind == "xor":
            out = np.bitwise_xor.reduce(args)
        elif gate.kind == "atleast":
            bits = np.sum([np.unpackbits(a) for a in args], axis=0) >= (gate.k or 0)
            out = np.packbits(bits)
        else:  # not, null
            out = args[0]
        values[name] = ~out if gate.kind in ("not", "nand", "nor") else out
        for arg in gate.args:  # free what no later gate reads
            if arg.kind == "gate" and last_use[arg.name] == step and arg.name != tree.top:
                del values[arg.name]
    return np.unpackbits(values[tree.top], count=total).astype(bool)


def minimal_count(tree: FaultTree, order: int) -> int:
    """The number of minimal cut sets of at most `order` events, by direct evaluation."""
    n = len(tree.basic_events)
    members = sets_up_to(n, order)
    occurs = top_occurs(tree, members)
    by_size, start = [], 0
    for block in members:
        by_size.append(occurs[start:start + len(block)])
        start += len(block)
    if by_size[0][0]:
        return 1  # the top event occurs with nothing failed: the empty set is the only cut set
    # A set is minimal when it makes the top occur and no set one event smaller does (a smaller
    # cut set inside it would sit inside one of those, and make it occur or be non-minimal).
    count = 0
    for size in range(1, order + 1):
        block, hit = members[size], by_size[size].copy()
        if size > 1:
            rank = _ranker(n, size - 1)
            for drop in range(size):
                rest = np.delete(block, drop, axis=1)
                hit &= ~by_size[size - 1][rank(rest)]
        count += int(hit.sum())
    return count


def _ranker(n: int, size: int):
    """The position of each sorted `size`-set in `sets_up_to`'s (lexicographic) order."""
    binom = np.array([[comb(a, b) for b in range(size + 2)] for a in range(n + 1)], dtype=np.int64)
    last = comb(n, size) - 1
    return lambda rows: last - sum(binom[n - 1 - rows[:, i], size - i] for i in range(size))


def _last_use(tree: FaultTree, plan: list[str]) -> dict[str, int]:
    """For every gate, the position (in `plan`) of the last gate that reads it."""
    last: dict[str, int] = {}
    for step, name in enumerate(plan):
        for arg in tree.gates[name].args:
            if arg.kind == "gate":
                last[arg.name] = step
    return last


def main() -> int:
    from aftershock.analysis.mef import read_fault_tree

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--order", type=int, default=3)
    args = parser.parse_args()
    print(minimal_count(read_fault_tree(args.file), args.order))
    return 0


if __name__ == "__main__":
    sys.exit(main())
