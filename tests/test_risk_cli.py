"""The `risk` and `whatif` commands: JSON shape, text output, and user errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "src" / "aftershock" / "demo" / "acme-shop.yaml"
EXAMPLE = REPO / "examples" / "mitigations.yaml"
needs_demo = pytest.mark.skipif(not DEMO.exists(), reason="the built-in demo model is absent")

SMALL = """
components:
  db: {failure: {rate_per_year: 4, mean_duration: 1h}}
  shop: {requires: [db], unavailability: 0, impact: {revenue_per_hour: 1000}}
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


@needs_demo
def test_risk_json_has_the_documented_shape(run_cli):
    res = run_cli("risk", DEMO, "--trials", "1500", "--seed", "3", "--format", "json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["trials"] == 1500 and data["horizon_hours"] == 8760 and data["seed"] == 3
    checkout = data["targets"]["checkout"]
    for block in ("downtime_hours", "loss", "degraded_hours", "incidents"):
        assert set(checkout[block]) >= {"mean", "p50", "p90", "p95", "p99", "ci95"}
        lo, hi = checkout[block]["ci95"]["mean"]
        assert lo <= checkout[block]["mean"] <= hi
    assert 0 < checkout["unavailability"] < 0.01
    assert data["contributors"][0]["expected_loss"] >= data["contributors"][-1]["expected_loss"]
    assert sum(c["share"] for c in data["contributors"]) == pytest.approx(1.0, rel=1e-6)
    assert data["loss_exceedance"] and data["loss_histogram"]["counts"]
    for curve in (data["loss_exceedance"], checkout["downtime_exceedance"], checkout["loss_exceedance"]):
        probs = [point["probability"] for point in curve]
        assert probs == sorted(probs, reverse=True) and 0 <= probs[-1] <= probs[0] <= 1
    assert sum(data["loss_histogram"]["counts"]) + data["loss_histogram"]["zero"] == 1500
    assert all("source" in s for s in data["sources"])


def test_risk_text_says_trials_and_intervals(run_cli, small: Path):
    res = run_cli("risk", small, "-n", "500", "--no-progress")
    assert res.exit_code == 0, res.stderr
    assert "500 trials" in res.stdout and "95%" in res.stdout
    assert "db" in res.stdout


def test_risk_horizon_and_target_options(run_cli, small: Path):
    res = run_cli("risk", small, "-n", "300", "--horizon", "90d", "--target", "shop", "-f", "json")
    data = json.loads(res.stdout)
    assert data["horizon_hours"] == 90 * 24 and list(data["targets"]) == ["shop"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--target", "shopp"), "did you mean 'shop'"),
        (("--horizon", "soon"), "--horizon"),
        (("--scheduler", "tcp://127.0.0.1:1"), "--backend dask"),
    ],
)
def test_risk_user_errors_exit_2_with_a_hint(run_cli, small: Path, args: tuple[str, ...], fragment: str):
    res = run_cli("risk", small, "-n", "10", *args)
    assert res.exit_code == 2
    assert fragment in res.stderr
    assert "Traceback" not in res.stderr


def test_risk_without_targets_explains(run_cli, tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("components:\n  a: {unavailability: 0.1}\n")
    res = run_cli("risk", path, "-n", "10")
    assert res.exit_code == 2 and "impact" in res.stderr


@needs_demo
def test_whatif_on_the_demo_ranks_the_example_mitigations(run_cli):
    res = run_cli("whatif", DEMO, EXAMPLE, "--trials", "800", "--format", "json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    ranked = [m for m in data["mitigations"] if m["evaluated"]]
    removed = [m["loss_removed"] for m in ranked]
    assert removed == sorted(removed, reverse=True)
    assert data["ranking"] == [m["name"] for m in ranked]
    # the throttle is valued by the simulator; the demo has no load or retries: it removes nothing
    [throttle] = [m for m in data["mitigations"] if m["changes"] == ["throttle"]]
    assert throttle["method"] == "simulator" and throttle["loss_removed"] == 0.0


def test_whatif_bad_file_is_located(run_cli, small: Path, tmp_path: Path):
    bad = tmp_path / "m.yaml"
    bad.write_text("version: 1\nmitigations:\n  - name: a\n    changes:\n      - ttl: {record: db, ttl: 1h}\n")
    res = run_cli("whatif", small, bad, "-n", "10")
    assert res.exit_code == 2
    assert f"{bad}:5" in res.stderr and "not a dns_record" in res.stderr


def test_whatif_text_table(run_cli, small: Path, tmp_path: Path):
    plan = tmp_path / "m.yaml"
    plan.write_text("version: 1\nmitigations:\n  - name: half\n    cost_per_year: 100\n"
                    "    changes: [{change_failure: {component: db, rate_factor: 0.5}}]\n")
    res = run_cli("whatif", small, plan, "-n", "500", "--no-progress")
    assert res.exit_code == 0, res.stderr
    assert "half" in res.stdout and "ranked" in res.stdout
