"""Our small cut sets against a direct evaluation of the tree on every set of few events.

bench/small_cut_sets.py is the referee the benchmark calls when a limited SCRAM run and we
disagree (das9701); here it and the engine are checked against each other on Aralia trees,
non-coherent ones included (read in place, skipped with a reason when absent).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from aftershock.analysis.faulttree import FaultTreeBDD
from aftershock.analysis.mef import read_fault_tree

from .conftest import SHARED

ARALIA = SHARED / "benchmarks" / "fault-trees" / "aralia"
BENCH = Path(__file__).resolve().parents[1] / "bench" / "small_cut_sets.py"

pytestmark = pytest.mark.skipif(not ARALIA.is_dir(), reason=f"Aralia trees not found at {ARALIA}")


def _referee():
    spec = importlib.util.spec_from_file_location("small_cut_sets", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("tree", "order"), [
    ("das9601", 3), ("baobab1", 3), ("chinese", 3), ("isp9605", 3),
    pytest.param("cea9601", 3, marks=pytest.mark.slow),  # 1.1 million sets: ~8 s
])
def test_small_cut_sets_equal_direct_evaluation(tree: str, order: int) -> None:
    ft = read_fault_tree(ARALIA / f"{tree}.xml")
    ours = FaultTreeBDD.build(ft).minimal_cut_sets(order).count()
    assert ours == _referee().minimal_count(ft, order)


def test_direct_evaluation_sees_negations(tmp_path: Path) -> None:
    # top = a AND NOT b, OR b AND c: {a} (b working) and {b, c} are the cut sets; {a, b} is not one.
    path = tmp_path / "t.xml"
    path.write_text(
        '<opsa-mef><define-fault-tree name="t"><define-gate name="top"><or>'
        '<and><basic-event name="a"/><not><basic-event name="b"/></not></and>'
        '<and><basic-event name="b"/><basic-event name="c"/></and></or></define-gate>'
        '</define-fault-tree><model-data>'
        + "".join(f'<define-basic-event name="{e}"><float value="0.1"/></define-basic-event>'
                  for e in "abc")
        + "</model-data></opsa-mef>")
    ft = read_fault_tree(path)
    referee = _referee()
    assert [referee.minimal_count(ft, k) for k in (1, 2, 3)] == [1, 2, 2]
    assert FaultTreeBDD.build(ft).minimal_cut_sets(3).count() == 2
