"""Cross-check with SCRAM, the reference open-source PSA tool, when it is installed.

SCRAM runs on Aralia trees (coherent and not) and on fault trees we export from models (groups,
votes and cycles), and must agree with us on the minimal cut set count, the exact probability and
the importance factors (SCRAM prints six significant digits).
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aftershock.analysis.fault_tree_compile import fault_tree_of
from aftershock.analysis.faulttree import FaultTree, FaultTreeBDD, analyze_fault_tree
from aftershock.analysis.importance import importance
from aftershock.analysis.mef import read_fault_tree, write_mef
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model, load_model_text

from .conftest import DEMO, SHARED

ARALIA = SHARED / "benchmarks" / "fault-trees" / "aralia"
SCRAM = shutil.which("scram")
pytestmark = pytest.mark.skipif(SCRAM is None, reason="SCRAM is not installed (apt-get install scram)")


def run_scram(path: Path, tmp_path: Path, *extra: str) -> ET.Element:
    out = tmp_path / (path.stem + ".report.xml")
    subprocess.run([SCRAM, "--bdd", "--probability", "true", "--limit-order", "1000", *extra,
                    "-o", str(out), str(path)], check=True, capture_output=True, timeout=120)
    return ET.parse(out).getroot()


def agree(ours: FaultTree, report: ET.Element) -> None:
    products = report.find(".//sum-of-products")
    assert products is not None
    result = analyze_fault_tree(ours, limit=0)
    assert result.mcs_count == int(products.get("products"))
    assert f"{result.probability:.5e}" == f"{float(products.get('probability')):.5e}"


@pytest.mark.parametrize("name", ["chinese", "das9601", "isp9605", "baobab2", "das9204"])
def test_aralia_trees_agree_with_scram(name: str, tmp_path: Path) -> None:
    path = ARALIA / f"{name}.xml"
    if not path.is_file():
        pytest.skip(f"Aralia benchmark not found at {ARALIA}")
    agree(read_fault_tree(path), run_scram(path, tmp_path))


def test_importance_agrees_with_scram(tmp_path: Path) -> None:
    path = ARALIA / "isp9605.xml"
    if not path.is_file():
        pytest.skip(f"Aralia benchmark not found at {ARALIA}")
    report = run_scram(path, tmp_path, "--importance", "true")
    theirs = {e.get("name"): e for e in report.iterfind(".//importance/basic-event")}
    ours = {e.event: e for e in importance(FaultTreeBDD.build(read_fault_tree(path))).events}
    assert set(theirs) <= set(ours)
    for name, row in theirs.items():
        mine = ours[name]
        assert mine.birnbaum == pytest.approx(float(row.get("MIF")), rel=1e-5)
        assert mine.fussell_vesely == pytest.approx(float(row.get("CIF")), rel=1e-5)
        assert mine.raw == pytest.approx(float(row.get("RAW")), rel=1e-5)
        assert mine.rrw == pytest.approx(float(row.get("RRW")), rel=1e-5)


MODEL = """
version: 1
components:
  web: {requires: [api, "dns:api.example.com"], unavailability: 0.001}
  "dns:api.example.com": {unavailability: 0.0005}
  api: {requires: [db, auth, queue], unavailability: 0.002}
  auth: {requires: [api, "aws:s3@us-east-1"], unavailability: 0.001}   # a cycle with api
  "aws:s3@us-east-1": {unavailability: 0.0002}
  db: {k_of_n: {k: 2, of: [db1, db2, db3]}}
  db1: {requires: [zone-a], unavailability: 0.01}
  db2: {requires: [zone-b], unavailability: 0.02}
  db3: {requires: [zone-a], unavailability: 0.03}
  zone-a: {unavailability: 0.001}
  zone-b: {unavailability: 0.001}
  queue: {any_of: [q1, q2]}
  q1: {requires: [queue], unavailability: 0.05}                        # a cycle through a group
  q2: {unavailability: 0.05}
"""


def test_exported_model_agrees_with_scram(tmp_path: Path) -> None:
    graph = compile_model(load_model_text(MODEL))
    tree = fault_tree_of(graph, "web")
    path = tmp_path / "web.xml"
    path.write_text(write_mef(tree))
    agree(tree, run_scram(path, tmp_path))
    # ... and what SCRAM reads back from our file is what we read back.
    agree(read_fault_tree(path), run_scram(path, tmp_path))


def test_exported_demo_agrees_with_scram(tmp_path: Path) -> None:
    graph = compile_model(load_model(DEMO))
    for target in graph.default_targets[:3]:
        tree = fault_tree_of(graph, target, default_unavailability=0.001)
        path = tmp_path / f"{target}.xml"
        path.write_text(write_mef(tree))
        agree(tree, run_scram(path, tmp_path))


CCF_FACTORS = {
    "beta-factor": '<factor level="3"><float value="0.1"/></factor>',
    "MGL": '<factors><factor level="2"><float value="0.2"/></factor>'
           '<factor level="3"><float value="0.3"/></factor></factors>',
    "alpha-factor": '<factors><factor level="1"><float value="0.7"/></factor><factor level="2">'
                    '<float value="0.2"/></factor><factor level="3"><float value="0.1"/></factor></factors>',
    "phi-factor": '<factors><factor level="1"><float value="0.6"/></factor><factor level="2">'
                  '<float value="0.3"/></factor><factor level="3"><float value="0.1"/></factor></factors>',
}


@pytest.mark.parametrize("model", list(CCF_FACTORS))
def test_ccf_groups_agree_with_scram(model: str, tmp_path: Path) -> None:
    path = tmp_path / f"{model}.xml"
    path.write_text(f"""<?xml version="1.0"?>
<opsa-mef>
  <define-fault-tree name="ccf">
    <define-gate name="top"><or>
      <atleast min="2"><basic-event name="p1"/><basic-event name="p2"/><basic-event name="p3"/></atleast>
      <and><basic-event name="v"/><basic-event name="p1"/></and>
      <and><basic-event name="v1"/><basic-event name="v2"/></and>
    </or></define-gate>
  </define-fault-tree>
  <define-CCF-group name="pumps" model="{model}">
    <members><basic-event name="p1"/><basic-event name="p2"/><basic-event name="p3"/></members>
    <distribution><float value="0.05"/></distribution>
    {CCF_FACTORS[model]}
  </define-CCF-group>
  <define-CCF-group name="valves" model="beta-factor">
    <members><basic-event name="v1"/><basic-event name="v2"/></members>
    <distribution><float value="0.02"/></distribution>
    <factor><float value="0.15"/></factor>
  </define-CCF-group>
  <model-data><define-basic-event name="v"><float value="0.3"/></define-basic-event></model-data>
</opsa-mef>
""")
    agree(read_fault_tree(path), run_scram(path, tmp_path, "--ccf", "true"))
