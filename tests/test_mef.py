"""Open-PSA MEF reading and writing: every construct, every bad input located, fuzzed."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.analysis.faulttree import FaultTreeBDD, FaultTreeError, Gate, analyze_fault_tree
from aftershock.analysis.mef import mef_identifier, read_fault_tree, write_mef

from .conftest import SHARED

ARALIA = SHARED / "benchmarks" / "fault-trees" / "aralia"


def mef(body: str, data: str = "") -> str:
    return f'<?xml version="1.0"?>\n<opsa-mef>\n<define-fault-tree name="ft">\n{body}\n' \
           f"</define-fault-tree>\n<model-data>\n{data}\n</model-data>\n</opsa-mef>\n"


def write(tmp_path: Path, text: str, name: str = "tree.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def probability(tree) -> float:
    return FaultTreeBDD.build(tree).probability()


def test_every_connective_and_expression(tmp_path: Path) -> None:
    text = mef(
        """
<define-gate name="top"><or>
  <gate name="g_and"/><gate name="g_vote"/><gate name="g_not"/><event name="g_xor"/>
</or></define-gate>
<define-gate name="g_and"><label>both pumps</label><and><basic-event name="a"/><basic-event name="b"/></and></define-gate>
<define-gate name="g_vote"><atleast min="2"><basic-event name="a"/><basic-event name="c"/>
  <and><basic-event name="d"/><house-event name="h"/></and></atleast></define-gate>
<define-gate name="g_not"><nor><basic-event name="a"/><basic-event name="e"/></nor></define-gate>
<define-gate name="g_xor"><xor><basic-event name="b"/><constant value="false"/></xor></define-gate>
<define-basic-event name="e"><float value="1"/></define-basic-event>
""",
        """
<define-parameter name="lambda"><float value="1e-5"/></define-parameter>
<define-basic-event name="a"><float value="0.1"/></define-basic-event>
<define-basic-event name="b"><mul><float value="0.5"/><parameter name="half"/></mul></define-basic-event>
<define-parameter name="half"><div><int value="1"/><int value="2"/></div></define-parameter>
<define-basic-event name="c"><exponential><parameter name="lambda"/><system-mission-time/></exponential></define-basic-event>
<define-basic-event name="d"><sub><float value="0.5"/><float value="0.2"/></sub></define-basic-event>
<define-house-event name="h"><constant value="true"/></define-house-event>
""",
    )
    tree = read_fault_tree(write(tmp_path, text))
    assert tree.top == "top"
    assert tree.basic_events["b"] == 0.25
    assert tree.basic_events["c"] == pytest.approx(-math.expm1(-1e-5 * 8760))
    assert tree.basic_events["d"] == pytest.approx(0.3)
    assert tree.labels["g_and"] == "both pumps"
    a, b, c, d = 0.1, 0.25, tree.basic_events["c"], 0.3
    # e fails surely, so nor(a, e) is false; xor(b, false) is b.
    p_and, p_b = a * b, b

    def vote(sa: bool, sc: bool, sd: bool) -> bool:
        return sa + sc + sd >= 2

    exact = 0.0
    for sa in (0, 1):
        for sb in (0, 1):
            for sc in (0, 1):
                for sd in (0, 1):
                    w = (a if sa else 1 - a) * (b if sb else 1 - b) * (c if sc else 1 - c) * (
                        d if sd else 1 - d)
                    if (sa and sb) or vote(sa, sc, sd) or sb:
                        exact += w
    assert probability(tree) == pytest.approx(exact, rel=1e-12)
    assert p_and <= exact and p_b <= exact


def test_several_files_are_merged(tmp_path: Path) -> None:
    gates = write(tmp_path, mef('<define-gate name="top"><and><basic-event name="x"/><gate name="sub"/></and></define-gate>'), "a.xml")
    more = write(tmp_path, mef('<define-gate name="sub"><or><basic-event name="y"/><basic-event name="z"/></or></define-gate>',
                               '<define-basic-event name="x"><float value="0.5"/></define-basic-event>'
                               '<define-basic-event name="y"><float value="0.5"/></define-basic-event>'
                               '<define-basic-event name="z"><float value="0.5"/></define-basic-event>'), "b.xml")
    tree = read_fault_tree([gates, more])
    assert tree.top == "top"
    assert probability(tree) == pytest.approx(0.5 * 0.75)


def test_top_gate_choice(tmp_path: Path) -> None:
    two_roots = write(tmp_path, mef('<define-gate name="t1"><basic-event name="x"/></define-gate>'
                                    '<define-gate name="t2"><basic-event name="y"/></define-gate>'))
    with pytest.raises(FaultTreeError, match="which is the top event") as err:
        read_fault_tree(two_roots)
    assert "--top" in (err.value.hint or "")
    assert read_fault_tree(two_roots, top="t2").top == "t2"
    with pytest.raises(FaultTreeError, match="top gate 't3' is not defined") as err:
        read_fault_tree(two_roots, top="t3")
    assert "t1" in (err.value.hint or "") or "t2" in (err.value.hint or "")


def ccf(model: str = "beta-factor", members: str = '<basic-event name="a"/><basic-event name="b"/>',
        rest: str = '<distribution><float value="0.1"/></distribution><factor><float value="0.2"/></factor>',
        data: str = "") -> str:
    return mef('<define-gate name="top"><and><basic-event name="a"/><basic-event name="b"/></and></define-gate>',
               f'<define-CCF-group name="g" model="{model}">\n<members>{members}</members>\n{rest}\n'
               f'</define-CCF-group>\n{data}')


BAD = {
    "malformed": ("<opsa-mef><define-fault-tree name='x'>\n<define-gate name='g'><or></define-gate>",
                  "malformed XML", 2),
    "undefined gate": (mef('<define-gate name="top"><or><gate name="nowhere"/><basic-event name="a"/></or></define-gate>'),
                       "gate 'nowhere' is not defined", 4),
    "undefined house event": (mef('<define-gate name="top"><or><house-event name="h"/><basic-event name="a"/></or></define-gate>'),
                              "house-event 'h' is not defined", 4),
    "gate defined twice": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>\n'
                               '<define-gate name="top"><basic-event name="a"/></define-gate>'),
                           "gate 'top' is defined twice", 5),
    "event defined twice": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>',
                                '<define-basic-event name="a"><float value="0.1"/></define-basic-event>\n'
                                '<define-basic-event name="a"><float value="0.2"/></define-basic-event>'),
                            "basic event 'a' is defined twice", 8),
    "gate and event share a name": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>',
                                        '<define-basic-event name="top"><float value="0.1"/></define-basic-event>'),
                                    "defined twice", 7),
    "cyclic gates": (mef('<define-gate name="top"><or><gate name="g1"/><basic-event name="a"/></or></define-gate>\n'
                         '<define-gate name="g1"><and><gate name="g2"/><basic-event name="b"/></and></define-gate>\n'
                         '<define-gate name="g2"><or><gate name="g1"/><basic-event name="c"/></or></define-gate>'),
                     "cycle", None),
    "probability above 1": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>',
                                '<define-basic-event name="a"><float value="1.5"/></define-basic-event>'),
                            "outside [0, 1]", 7),
    "negative probability": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>',
                                 '<define-basic-event name="a"><neg><float value="0.5"/></neg></define-basic-event>'),
                             "outside [0, 1]", 7),
    "atleast k too large": (mef('<define-gate name="top">\n<atleast min="3"><basic-event name="a"/><basic-event name="b"/></atleast></define-gate>'),
                            "at least 3 of 2 inputs", 5),
    "atleast without min": (mef('<define-gate name="top">\n<atleast><basic-event name="a"/><basic-event name="b"/></atleast></define-gate>'),
                            "positive integer", 5),
    "not with two inputs": (mef('<define-gate name="top">\n<not><basic-event name="a"/><basic-event name="b"/></not></define-gate>'),
                            "exactly one input", 5),
    "unknown connective": (mef('<define-gate name="top">\n<orr><basic-event name="a"/></orr></define-gate>'),
                           "unknown formula element", 5),
    "bad number": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>',
                       '<define-basic-event name="a"><float value="lots"/></define-basic-event>'),
                   "not a number", 7),
    "undefined parameter": (mef('<define-gate name="top"><or><basic-event name="a"/><basic-event name="b"/></or></define-gate>',
                                '<define-basic-event name="a"><parameter name="lamda"/></define-basic-event>\n'
                                '<define-parameter name="lambda"><float value="0.1"/></define-parameter>'),
                            "parameter 'lamda' is not defined", 7),
    "wrong root": ("<?xml version='1.0'?>\n<fault-tree/>", "must be <opsa-mef>", 2),
    "entity expansion refused": ("<?xml version='1.0'?>\n<!DOCTYPE lol [<!ENTITY a 'aaaa'>]>\n<opsa-mef/>",
                                 "DTDs and entities are not allowed", 2),
    "gate without formula": (mef('<define-gate name="top"></define-gate>'), "exactly one formula", 4),
    "cardinality min above max": (mef('<define-gate name="top">\n<cardinality min="2" max="1"><basic-event name="a"/>'
                                      '<basic-event name="b"/></cardinality></define-gate>'), "larger than max", 5),
    "cardinality min above inputs": (mef('<define-gate name="top">\n<cardinality min="3" max="3"><basic-event name="a"/>'
                                         '<basic-event name="b"/></cardinality></define-gate>'), "at least 3 of 2", 5),
    "cardinality without max": (mef('<define-gate name="top">\n<cardinality min="1"><basic-event name="a"/>'
                                    '<basic-event name="b"/></cardinality></define-gate>'), "max = a non-negative integer", 5),
    "ccf unknown model": (ccf(model="gamma"), "unknown model 'gamma'", 7),
    "ccf one member": (ccf(members='<basic-event name="a"/>'), "it needs at least 2", 8),
    "ccf member defined twice": (ccf(data='<define-basic-event name="a"><float value="0.1"/></define-basic-event>'),
                                 "basic event 'a' is defined twice", 11),
    "ccf without distribution": (ccf(rest='<factor><float value="0.2"/></factor>'), "needs one <distribution>", 7),
    "ccf factor above 1": (ccf(rest='<distribution><float value="0.1"/></distribution>\n<factor><float value="2"/></factor>'),
                           "factor 2 is outside [0, 1]", 10),
    "ccf beta level": (ccf(rest='<distribution><float value="0.1"/></distribution>\n'
                            '<factor level="3"><float value="0.2"/></factor>'), "level 3 where level 2", 10),
    "ccf MGL levels out of order": (ccf(model="MGL", rest='<distribution><float value="0.1"/></distribution>\n<factors>'
                                        '<factor level="3"><float value="0.2"/></factor></factors>'),
                                    "level 3 where level 2", 10),
    "substitutions": ("<opsa-mef>\n<model-data><define-substitution name='x'/></model-data></opsa-mef>",
                      "not supported", 2),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_a_located_error(tmp_path: Path, case: str) -> None:
    text, message, line = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(FaultTreeError) as err:
        read_fault_tree(path)
    assert message in str(err.value)
    assert err.value.file == str(path)
    if line is not None:
        assert err.value.line == line, str(err.value)
    else:
        assert err.value.line is not None


def test_undefined_reference_suggests_the_close_name(tmp_path: Path) -> None:
    text = mef('<define-gate name="top"><or><gate name="pumps"/><basic-event name="a"/></or></define-gate>'
               '<define-gate name="pump"><basic-event name="b"/></define-gate>')
    with pytest.raises(FaultTreeError) as err:
        read_fault_tree(write(tmp_path, text))
    assert "pump" in (err.value.hint or "")


def test_missing_file() -> None:
    with pytest.raises(FaultTreeError, match="file not found"):
        read_fault_tree("/nonexistent/tree.xml")


def test_written_mef_reads_back_with_the_same_results(tmp_path: Path) -> None:
    if not ARALIA.is_dir():
        pytest.skip(f"Aralia benchmark not found at {ARALIA}")
    for name in ("chinese", "das9601", "isp9605"):
        tree = read_fault_tree(ARALIA / f"{name}.xml")
        again = read_fault_tree(write(tmp_path, write_mef(tree), f"{name}.out.xml"))
        first, second = analyze_fault_tree(tree, limit=0), analyze_fault_tree(again, limit=0)
        assert second.probability == pytest.approx(first.probability, rel=1e-12)
        assert second.mcs_count == first.mcs_count


def test_identifiers_are_made_mef_safe() -> None:
    taken: set[str] = set()
    assert mef_identifier("aws:dynamodb@us-east-1", taken) == "aws_dynamodb_us-east-1"
    assert mef_identifier("aws:dynamodb@us-east-1", taken) == "aws_dynamodb_us-east-1_2"
    assert mef_identifier("1st--db.", taken) == "_1st-db_"
    assert mef_identifier("", taken) == "_"


def test_written_labels_keep_the_original_names(tmp_path: Path) -> None:
    from aftershock.analysis.faulttree import Arg, FaultTree, Gate

    tree = FaultTree("m", "web <down>", {"web <down>": Gate("web <down>", "or", (
        Arg("basic", "aws:s3@us-east-1"), Arg("basic", "db & cache")))},
        {"aws:s3@us-east-1": 0.1, "db & cache": 0.2})
    text = write_mef(tree)
    assert "<label>aws:s3@us-east-1</label>" in text
    assert "<label>db &amp; cache</label>" in text
    again = read_fault_tree(write(tmp_path, text))
    assert probability(again) == pytest.approx(1 - 0.9 * 0.8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_input_gives_located_errors_only(tmp_path: Path, data: st.DataObject) -> None:
    base = mef('<define-gate name="top"><atleast min="2"><basic-event name="a"/><gate name="g"/>'
               '<basic-event name="b"/></atleast></define-gate>\n'
               '<define-gate name="g"><not><basic-event name="c"/></not></define-gate>',
               '<define-basic-event name="a"><float value="0.1"/></define-basic-event>')
    raw = bytearray(base.encode())
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i : i + data.draw(st.integers(1, 40))]
        elif op == "dup":
            raw[i:i] = raw[i : i + data.draw(st.integers(1, 40))]
        else:
            raw[i:i] = data.draw(st.sampled_from([b"<gate name='top'/>", b"<not>", b"</or>",
                                                   b"min='0'", b"<float value='-1'/>", b"&amp;"]))
        if not raw:
            raw = bytearray(b"<")
    path = tmp_path / "fuzz.xml"
    path.write_bytes(bytes(raw))
    try:
        tree = read_fault_tree(path)
    except FaultTreeError as exc:
        assert exc.file == str(path)
        return
    analyze_fault_tree(tree, limit=3)  # whatever parsed is a valid tree


def test_cardinality_gate_matches_enumeration(tmp_path: Path) -> None:
    p = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4, "e": 0.5, "f": 0.6, "g": 0.7}
    data = "".join(f'<define-basic-event name="{n}"><float value="{q}"/></define-basic-event>' for n, q in p.items())
    text = mef("""
<define-gate name="top"><or>
  <cardinality min="2" max="3"><basic-event name="a"/><basic-event name="b"/><basic-event name="c"/>
    <basic-event name="d"/></cardinality>
  <and><basic-event name="e"/><gate name="few"/></and>
  <cardinality min="0" max="4"><basic-event name="a"/><basic-event name="g"/></cardinality>
</or></define-gate>
<define-gate name="few"><cardinality min="0" max="1"><basic-event name="a"/><basic-event name="f"/>
  <basic-event name="g"/></cardinality></define-gate>
<define-gate name="unused"><cardinality min="1" max="2"><basic-event name="a"/><basic-event name="b"/></cardinality></define-gate>
""", data)
    tree = read_fault_tree(write(tmp_path, text), top="top")
    names = list(p)

    def top(s: dict[str, bool]) -> bool:
        return 2 <= sum(s[x] for x in "abcd") <= 3 or (s["e"] and sum(s[x] for x in "afg") <= 1)

    # The last <cardinality> of top always holds (0 <= count <= 2): top is certain.
    assert probability(tree) == pytest.approx(1.0, rel=1e-12)
    tree.gates["top"] = Gate("top", "or", tree.gates["top"].args[:2])
    exact, down = 0.0, []
    for bits in itertools.product([False, True], repeat=len(names)):
        s = dict(zip(names, bits, strict=True))
        if top(s):
            exact += math.prod(p[n] if s[n] else 1 - p[n] for n in names)
            down.append(frozenset(n for n in names if s[n]))
    assert probability(tree) == pytest.approx(exact, rel=1e-12)
    # Cut sets (negative literals dropped): minimal sets whose failure alone takes top down.
    alone = [c for c in down if top({n: n in c for n in names})]
    minimal = {c for c in alone if not any(o < c for o in alone)}
    result = analyze_fault_tree(tree, limit=100)
    assert {frozenset(c) for c in result.cut_sets} == minimal
    assert result.mcs_count == len(minimal)


def test_ccf_group_events_and_probabilities(tmp_path: Path) -> None:
    """Each member becomes the OR of its CCF events, with the model's Q_k (here MGL)."""
    text = mef('<define-gate name="top"><atleast min="2"><basic-event name="a"/><basic-event name="b"/>'
               '<basic-event name="c"/></atleast></define-gate>',
               '<define-CCF-group name="g" model="MGL"><members><basic-event name="a"/><basic-event name="b"/>'
               '<basic-event name="c"/></members><distribution><float value="0.05"/></distribution>'
               '<factors><factor level="2"><float value="0.2"/></factor>'
               '<factor level="3"><float value="0.3"/></factor></factors></define-CCF-group>')
    tree = read_fault_tree(write(tmp_path, text))
    q, beta, gamma = 0.05, 0.2, 0.3
    expected = {"[a]": (1 - beta) * q, "[a b]": beta * (1 - gamma) * q / 2, "[a b c]": beta * gamma * q}
    for event, value in expected.items():
        assert tree.basic_events[event] == pytest.approx(value, rel=1e-12)
    assert {a.name for a in tree.gates["a"].args} == {"[a]", "[a b]", "[a c]", "[a b c]"}
    assert "a" not in tree.basic_events
    result = analyze_fault_tree(tree, limit=100)
    # Three pairs of independent failures, three double CCF events and the triple one.
    assert result.mcs_count == 7
    assert sorted(map(sorted, result.cut_sets))[:2] == [["[a b c]"], ["[a b]"]]
    q1, q2, q3 = expected["[a]"], expected["[a b]"], expected["[a b c]"]
    events = {"[a]": q1, "[b]": q1, "[c]": q1, "[a b]": q2, "[a c]": q2, "[b c]": q2, "[a b c]": q3}
    exact = 0.0
    for bits in itertools.product([False, True], repeat=len(events)):
        s = dict(zip(events, bits, strict=True))
        fails = {m: any(s[e] for e in events if m in e.strip("[]").split()) for m in "abc"}
        if sum(fails.values()) >= 2:
            exact += math.prod(events[e] if s[e] else 1 - events[e] for e in events)
    assert result.probability == pytest.approx(exact, rel=1e-12)
