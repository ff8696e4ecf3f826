"""The reliability commands: JSON shapes, text output, exit codes for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import DEMO, SHARED

CHINESE = SHARED / "benchmarks" / "fault-trees" / "aralia" / "chinese.xml"

MODEL = """
version: 1
components:
  shop: {requires: [api], impact: {revenue_per_hour: 1000}, unavailability: 0.001}
  api: {requires: [db], unavailability: 0.002}
  db: {any_of: [db1, db2]}
  db1: {unavailability: 0.01}
  db2: {unavailability: 0.02}
  cache: {}
  report: {requires: [db, cache], tags: {tier: 2}}
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(MODEL)
    return path


def test_availability_json_every_target(run_cli, model: Path) -> None:
    res = run_cli("availability", model, "--default-unavailability", "0.001", "--format", "json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    rows = {r["target"]: r for r in data["targets"]}
    assert set(rows) == {"shop", "report"}
    shop = rows["shop"]
    exact = 1 - (1 - 0.001) * (1 - 0.002) * (1 - 0.01 * 0.02)
    assert shop["probability"] == pytest.approx(exact, rel=1e-12)
    assert shop["availability"] == pytest.approx(1 - exact, rel=1e-12)
    assert shop["downtime_hours_per_year"] == pytest.approx(exact * 8760, rel=1e-12)
    assert shop["mcs_count"] == 3
    assert shop["approximations"]["rare_event"] == pytest.approx(0.001 + 0.002 + 0.0002)
    assert shop["approximations"]["mcub"] >= shop["probability"]


def test_availability_without_probabilities_is_a_located_error(run_cli, model: Path) -> None:
    res = run_cli("availability", model, "--target", "report")
    assert res.exit_code == 2
    assert "cache" in res.stderr and "no failure probability" in res.stderr
    assert f"{model}:" in res.stderr and "--default-unavailability" in res.stderr


def test_cutsets_json_shape_and_limit(run_cli, model: Path) -> None:
    res = run_cli("cutsets", model, "--target", "shop", "--limit", "2", "--format", "json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["top_event"] == "shop-down" and data["target"] == "shop"
    assert data["mcs_count"] == 3
    assert data["cut_sets"] == [["api"], ["shop"]]  # most probable first, capped at 2
    assert data["cut_set_probabilities"] == [0.002, 0.001]
    assert set(data["approximations"]) == {"rare_event", "mcub"}


def test_cutsets_order_limit_and_cutoff(run_cli, model: Path) -> None:
    res = run_cli("cutsets", model, "-t", "shop", "--max-order", "1", "--format", "json")
    assert json.loads(res.stdout)["mcs_count"] == 2
    res = run_cli("cutsets", model, "-t", "shop", "--cutoff", "0.0015", "--format", "json")
    data = json.loads(res.stdout)
    assert data["mcs_count"] == 1 and data["cut_sets"] == [["api"]]


def test_cutsets_qualitative_when_probabilities_are_missing(run_cli, model: Path) -> None:
    res = run_cli("cutsets", model, "-t", "report", "--format", "json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["probability"] is None
    assert sorted(map(sorted, data["cut_sets"])) == [["cache"], ["db1", "db2"], ["report"]]
    assert data["missing_probabilities"] == 2  # report and cache
    text = run_cli("cutsets", model, "-t", "report")
    assert "qualitative only: 2 basic event(s) have no probability" in text.stdout
    res = run_cli("cutsets", model, "-t", "report", "--cutoff", "0.1")
    assert res.exit_code == 2 and "no failure probability" in res.stderr


def test_importance_json(run_cli, model: Path) -> None:
    res = run_cli("importance", model, "-t", "shop", "--format", "json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    rows = {r["event"]: r for r in data["events"]}
    assert set(rows) == {"shop", "api", "db1", "db2"}
    assert set(rows["api"]) == {"event", "probability", "birnbaum", "fussell_vesely", "raw", "rrw"}
    p = data["probability"]
    # api alone: P(top | api failed) = 1, so RAW = 1 / P.
    assert rows["api"]["raw"] == pytest.approx(1 / p, rel=1e-9)
    assert data["events"][0]["event"] == "api"  # ranked by Fussell-Vesely


def test_fta_on_an_aralia_tree(run_cli) -> None:
    if not CHINESE.is_file():
        pytest.skip(f"Aralia benchmark not found at {CHINESE}")
    res = run_cli("fta", CHINESE, "--format", "json", "--limit", "3", "--importance")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["mcs_count"] == 392 and f"{data['probability']:.6g}" == "0.00117058"
    assert len(data["cut_sets"]) == 3 and len(data["importance"]) == 25
    text = run_cli("fta", CHINESE, "--max-order", "2")
    assert text.exit_code == 0 and "minimal cut sets    12 (order <= 2)" in text.stdout


def test_fta_bad_input_exits_2_with_location(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<opsa-mef>\n<define-fault-tree name='t'>\n<define-gate name='g'>\n"
                   "<atleast min='3'><basic-event name='a'/><basic-event name='b'/></atleast>\n"
                   "</define-gate></define-fault-tree></opsa-mef>\n")
    res = run_cli("fta", bad)
    assert res.exit_code == 2
    assert f"{bad}:4:" in res.stderr and "at least 3 of 2" in res.stderr
    assert "Traceback" not in res.stderr


def test_unknown_target_and_bad_options(run_cli, model: Path) -> None:
    res = run_cli("cutsets", model, "-t", "shp")
    assert res.exit_code == 2 and "unknown target 'shp'" in res.stderr and "shop" in res.stderr
    res = run_cli("cutsets", model, "-t", "shop", "--cutoff", "2")
    assert res.exit_code == 2 and "not a probability" in res.stderr
    res = run_cli("availability", model, "--default-unavailability", "-1")
    assert res.exit_code == 2


def test_export_mef_reads_back(run_cli, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "shop.xml"
    res = run_cli("export-mef", model, "-t", "shop", "-o", out)
    assert res.exit_code == 0, res.stderr
    res = run_cli("fta", out, "--format", "json")
    data = json.loads(res.stdout)
    exact = 1 - (1 - 0.001) * (1 - 0.002) * (1 - 0.01 * 0.02)
    assert data["probability"] == pytest.approx(exact, rel=1e-12)
    stdout = run_cli("export-mef", model, "-t", "shop")
    assert stdout.stdout.startswith("<?xml") and "<opsa-mef>" in stdout.stdout


def test_demo_model_text_output(run_cli) -> None:
    res = run_cli("availability", DEMO)
    assert res.exit_code == 0, res.stderr
    assert "checkout" in res.stdout
    res = run_cli("cutsets", DEMO, "-t", "checkout", "--limit", "3")
    assert res.exit_code == 0 and "exact probability" in res.stdout and "raise --limit" in res.stdout


def test_memory_budget_gives_a_clear_message(run_cli) -> None:
    tree = SHARED / "benchmarks" / "fault-trees" / "aralia" / "edfpa14p.xml"
    if not tree.is_file():
        pytest.skip(f"Aralia benchmark not found at {tree}")
    res = run_cli("fta", tree, "--max-memory", "16")
    assert res.exit_code == 2
    assert "memory" in res.stderr and "--max-memory" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_cli("fta", tree, "--max-memory", "1")
    assert res.exit_code == 2 and "too small" in res.stderr
