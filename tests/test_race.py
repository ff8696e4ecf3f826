"""The DNS automation race: deterministic seeds, reproduction of the empty record, and each guard."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aftershock.cli import app
from aftershock.sim.incidents import IncidentError, load_race_parameters, read_race_parameters
from aftershock.sim.race import (
    GUARDS,
    RaceParameters,
    estimate_race,
    simulate_race,
    wilson_interval,
)

INCIDENT = "aws-us-east-1-2025-10"
SEEDS = 40


@pytest.fixture(scope="module")
def params() -> RaceParameters:
    return load_race_parameters(INCIDENT)[0]


def test_catalog_states_a_rationale_for_every_parameter(params: RaceParameters) -> None:
    _, why = load_race_parameters(INCIDENT)
    assert set(why) == set(RaceParameters.__dataclass_fields__)
    assert all(len(text) > 20 for text in why.values())
    assert params.enactors == 3


def test_same_seed_same_run(params: RaceParameters) -> None:
    a, b = simulate_race(params, "none", 11), simulate_race(params, "none", 11)
    assert (a.empty_at_s, a.writes, a.stale_writes, a.plans) == (
        b.empty_at_s, b.writes, b.stale_writes, b.plans)
    c = simulate_race(params, "none", 12)
    assert (c.writes, c.plans) != (a.writes, a.plans)


def test_a_run_reproduces_the_race_step_by_step(params: RaceParameters) -> None:
    estimate = estimate_race(params, "none", SEEDS)
    assert estimate.first_empty_seed is not None
    run = simulate_race(params, "none", estimate.first_empty_seed, trace=True)
    assert run.emptied and run.empty_at_s is not None and run.empty_at_s <= params.horizon_s
    stale = [t for t in run.trace if "stale plan" in t.what][-1]
    overwritten = int(stale.what.rsplit(" ", 1)[-1])
    # The slow Enactor wrote a plan old enough for clean-up over a newer one ...
    assert stale.generation < overwritten - params.cleanup_keep
    slow = [t for t in run.trace if "slow apply" in t.what and t.generation == stale.generation]
    assert slow and slow[-1].enactor == stale.enactor
    # ... and another Enactor's clean-up then deleted it: the last event is the empty record.
    last = run.trace[-1]
    assert "EMPTY" in last.what and last.generation == stale.generation
    assert last.enactor != stale.enactor and last.time_s >= stale.time_s


def test_without_guard_the_record_empties_in_a_share_of_runs(params: RaceParameters) -> None:
    estimate = estimate_race(params, "none", SEEDS)
    assert 0 < estimate.empties < SEEDS
    low, high = estimate.interval
    assert low <= estimate.probability <= high


@pytest.mark.parametrize("guard", [g for g in GUARDS if g != "none"])
def test_each_guard_drives_the_race_to_zero(params: RaceParameters, guard: str) -> None:
    unguarded = estimate_race(params, "none", SEEDS)
    guarded = estimate_race(params, guard, SEEDS)
    assert unguarded.empties > 0
    assert guarded.empties == 0
    if guard == "cas":
        assert guarded.stale_writes == 0  # every stale write was abandoned at write time
    else:
        assert guarded.cleanable_stale_writes > 0  # the dangerous write happened; the guard held


def test_no_empty_guard_refuses_the_write_that_would_empty_the_record(params: RaceParameters) -> None:
    seed = estimate_race(params, "none", SEEDS).first_empty_seed
    assert seed is not None
    run = simulate_race(params, "no-empty", seed)
    assert not run.emptied and run.refused_empty >= 1


def test_probability_follows_the_delay_distribution(params: RaceParameters) -> None:
    calm = estimate_race(replace(params, stall_probability=0.0), "none", 20)
    stormy = estimate_race(replace(params, stall_probability=0.005), "none", 20)
    assert calm.empties == 0  # ordinary jitter never outlasts 50 generations
    assert stormy.empties > estimate_race(params, "none", 20).empties >= calm.empties


def test_one_enactor_cannot_race_itself(params: RaceParameters) -> None:
    alone = estimate_race(replace(params, enactors=1, stall_probability=0.01), "none", 20)
    assert alone.empties == 0 and alone.stale_writes == 0


def test_wilson_interval() -> None:
    low, high = wilson_interval(0, 100)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.03 < high < 0.04
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and high - 0.5 == pytest.approx(0.5 - low)


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="enactors"):
        RaceParameters(enactors=0)
    with pytest.raises(ValueError, match="guard"):
        simulate_race(RaceParameters(), "sometimes", 0)  # type: ignore[arg-type]


def test_race_file_errors_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.race.yaml"
    bad.write_text("version: 1\nparameters:\n  enactor:\n    value: 3\n    rationale: x\n")
    with pytest.raises(IncidentError) as info:
        read_race_parameters(bad)
    err = info.value
    assert err.line == 3 and "enactor" in err.message and "enactors" in (err.hint or "")
    bad.write_text("version: 1\nparameters:\n  enactors:\n    value: 3\n")
    with pytest.raises(IncidentError, match="rationale"):
        read_race_parameters(bad)


def test_cli_race_json_and_text() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["race", "--seeds", "15", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    by_guard = {e["guard"]: e for e in data["estimates"]}
    assert set(by_guard) == set(GUARDS)
    assert by_guard["none"]["empties"] > 0
    assert all(by_guard[g]["empties"] == 0 for g in GUARDS if g != "none")
    assert "EMPTY" in data["example"]["trace"][-1]["what"]
    text = runner.invoke(app, ["race", "--seeds", "5", "--guard", "cas", "--enactors", "2"])
    assert text.exit_code == 0 and "cas" in text.output and "2 Enactors" in text.output
    bad = runner.invoke(app, ["race", "--guard", "maybe"])
    assert bad.exit_code == 2
