"""The Aralia benchmark: our exact results reproduce the published figures (reference.csv).

Counts must be equal and probabilities equal to the six significant digits given. The trees are
read in place from ../shared/benchmarks/fault-trees (skipped with a reason when absent).
"""

from __future__ import annotations

import csv

import pytest

from aftershock.analysis.faulttree import FaultTreeBDD, analyze_fault_tree
from aftershock.analysis.mef import read_fault_tree

from .conftest import SHARED

ARALIA = SHARED / "benchmarks" / "fault-trees"
# Trees that take more than a few seconds here (still checked, marked slow).
SLOW: set[str] = set()


def _references() -> list[tuple[str, int, int, str]]:
    path = ARALIA / "reference.csv"
    if not path.is_file():
        return []
    with path.open() as fh:
        return [(r["model"], int(r["basic_events"]), int(r["mcs_count"]), r["probability"])
                for r in csv.DictReader(fh)]


REFERENCES = _references()
pytestmark = pytest.mark.skipif(not REFERENCES, reason=f"Aralia benchmark not found at {ARALIA}")


def _params() -> list:
    return [
        pytest.param(*row, id=row[0], marks=[pytest.mark.slow] if row[0] in SLOW else [])
        for row in REFERENCES
    ]


@pytest.mark.parametrize(("model", "basic_events", "mcs_count", "probability"), _params())
def test_reproduces_published_figures(model: str, basic_events: int, mcs_count: int,
                                      probability: str) -> None:
    tree = read_fault_tree(ARALIA / "aralia" / f"{model}.xml")
    result = analyze_fault_tree(tree, limit=3)
    assert result.basic_events == basic_events
    assert result.mcs_count == mcs_count
    digits = len(probability.split("e")[0].replace(".", "").lstrip("0"))
    assert f"{result.probability:.{digits}g}" == f"{float(probability):.{digits}g}"
    # The approximations bracket nothing in general, but the rare-event sum is an upper bound
    # of the MCUB, which is an upper bound of the exact value for a coherent tree.
    assert result.rare_event >= result.mcub >= result.probability * (1 - 1e-12)


def test_every_tree_is_read_and_the_top_gate_found() -> None:
    for path in sorted((ARALIA / "aralia").glob("*.xml")):
        tree = read_fault_tree(path)
        assert tree.top == "r1", path.name


def test_listed_cut_sets_are_minimal_cut_sets_most_probable_first() -> None:
    tree = read_fault_tree(ARALIA / "aralia" / "chinese.xml")
    bdd = FaultTreeBDD.build(tree)
    result = analyze_fault_tree(tree, limit=400, bdd=bdd)
    assert len(result.cut_sets) == result.mcs_count == 392
    probs = result.cut_set_probabilities
    assert probs == sorted(probs, reverse=True)
    sets = [frozenset(c) for c in result.cut_sets]
    assert len(set(sets)) == len(sets)
    for a in sets:  # no listed set contains another
        assert not any(b < a for b in sets)
    # Each is a cut set: failing exactly its events makes the top event occur.
    events = bdd.events
    for cut in sets[:50]:
        p = [1.0 if e in cut else 0.0 for e in events]
        assert bdd.probability(__import__("numpy").asarray(p)) == 1.0


def test_order_limit_and_cutoff_match_the_order_distribution() -> None:
    # SCRAM reports chinese's cut sets by order: 12 of order 2, 24 of order 4, 188 of 5, 168 of 6.
    tree = read_fault_tree(ARALIA / "aralia" / "chinese.xml")
    bdd = FaultTreeBDD.build(tree)
    assert analyze_fault_tree(tree, max_order=2, bdd=bdd).mcs_count == 12
    assert analyze_fault_tree(tree, max_order=4, bdd=bdd).mcs_count == 36
    assert analyze_fault_tree(tree, max_order=5, bdd=bdd).mcs_count == 224
    # Every event has p = 0.01, so a cut-off of 1e-8 keeps exactly the sets of order <= 4.
    cut = analyze_fault_tree(tree, cutoff=1e-8, limit=100, bdd=bdd)
    assert cut.mcs_count == 36 and len(cut.cut_sets) == 36
    assert all(len(c) <= 4 for c in cut.cut_sets)
    assert cut.rare_event == pytest.approx(12 * 1e-4 + 24 * 1e-8, rel=1e-12)


def test_counts_beyond_what_could_be_listed() -> None:
    # das9209 has 8.2e10 minimal cut sets: counted exactly on the ZBDD, never listed.
    tree = read_fault_tree(ARALIA / "aralia" / "das9209.xml")
    result = analyze_fault_tree(tree, limit=5)
    assert result.mcs_count == 82_000_000_000
    assert len(result.cut_sets) == 5


@pytest.mark.parametrize("name", ["das9601"])
def test_order_race_under_tiny_caps_gives_the_same_results(name: str, monkeypatch) -> None:
    """Caps so small that orders pause at every gate and die inside gates, so the race goes
    through every path (resume, like-for-like comparison, all dead and restart larger): the
    BDD it ends with is another order's, the results are the same."""
    from aftershock.analysis import bdd_order

    path = ARALIA / "aralia" / f"{name}.xml"
    tree = read_fault_tree(path)
    expected = analyze_fault_tree(tree, limit=5)
    monkeypatch.setattr(bdd_order, "_FIRST_CAP", 8)
    monkeypatch.setattr(bdd_order, "_HARD_FACTOR", 1)
    monkeypatch.setattr(bdd_order, "_TINY", 0)
    calls = {"dead": 0}
    advance = bdd_order._Candidate.advance

    def counting(self, *args, **kwargs):
        advance(self, *args, **kwargs)
        calls["dead"] += self.state == "dead"

    monkeypatch.setattr(bdd_order._Candidate, "advance", counting)
    result = analyze_fault_tree(tree, limit=5)
    assert calls["dead"] > 0
    assert result.mcs_count == expected.mcs_count
    assert result.probability == pytest.approx(expected.probability, rel=1e-12)
    assert result.cut_set_probabilities == pytest.approx(expected.cut_set_probabilities, rel=1e-12)
