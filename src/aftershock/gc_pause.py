"""Pausing Python's cyclic garbage collector while a stage builds many acyclic objects.

Fault trees: reading a tree, building its BDD and its cut-set ZBDD allocate hundreds of thousands of small
containers (parsed elements, hash-consing keys, memo entries), none of them garbage in a cycle.
Each allocation burst triggers collections that walk every tracked object, those the imports left
included: in a fresh process, the first full collection alone costs 10-30 ms (das9601: as long
as reading the file five times). Reference counting still frees everything; the collector runs
again as usual afterwards.

Importers: node trees are kept for line numbers; with millions of live objects the collector
rescans them again and again (measured 3x slower on 2,000 manifests).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the `with` block (nested blocks leave it to the outermost)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
