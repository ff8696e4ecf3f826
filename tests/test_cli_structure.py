"""The foundation's CLI: validate, schema, analyze, blast, spof, demo — text and JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from .conftest import DEMO

MODEL = """\
version: 1
name: tiny
components:
  db: {unavailability: 0.001}
  api: {requires: [db], impact: {revenue_per_hour: 1000}, tags: {tier: 1}}
  web: {uses: [api], impact: {revenue_per_hour: 50, degraded_loss: 0.5}}
"""


def model_file(tmp_path: Path, text: str = MODEL) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


def test_validate_ok_and_json(tmp_path: Path, run_cli) -> None:
    result = run_cli("validate", model_file(tmp_path), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"model": "tiny", "valid": True, "components": 3}


def test_validate_bad_model_exits_2_with_located_message(tmp_path: Path, run_cli) -> None:
    bad = model_file(tmp_path, "version: 1\ncomponents:\n  a: {requires: [bb]}\n  b: {}\n")
    result = run_cli("validate", bad)
    assert result.exit_code == 2
    assert "tiny.yaml:3:" in result.stderr and "did you mean 'b'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_file_exits_2(tmp_path: Path, run_cli) -> None:
    result = run_cli("analyze", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "not found" in result.stderr


def test_usage_error_exits_2(run_cli) -> None:
    assert run_cli("blast").exit_code == 2
    assert run_cli("spof", "--format", "xml", "m.yaml").exit_code == 2


def test_blast_json_shape(tmp_path: Path, run_cli) -> None:
    result = run_cli("blast", model_file(tmp_path), "db", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["failed"] == ["db"]
    assert data["down"] == ["api", "db"]
    assert data["degraded"] == ["web"]
    assert data["revenue_per_hour_at_risk"] == 1025.0


def test_blast_unknown_component_exits_2(tmp_path: Path, run_cli) -> None:
    result = run_cli("blast", model_file(tmp_path), "dbb")
    assert result.exit_code == 2 and "did you mean 'db'" in result.stderr


def test_spof_json_shapes(tmp_path: Path, run_cli) -> None:
    one = json.loads(run_cli("spof", model_file(tmp_path), "--target", "api", "-f", "json").stdout)
    assert one == {"target": "api", "spofs": ["db"]}
    every = json.loads(run_cli("spof", model_file(tmp_path), "-f", "json").stdout)
    assert every == {"targets": {"api": ["db"], "web": []}}


def test_analyze_json_has_counts_cycles_spofs_and_blast(tmp_path: Path, run_cli) -> None:
    data = json.loads(run_cli("analyze", model_file(tmp_path), "-f", "json").stdout)
    assert data["counts"]["components"] == 3
    assert data["cycles"] == []
    assert data["spofs"] == {"api": ["db"], "web": []}
    top = data["top_blast_radius"][0]
    assert top["component"] == "db" and top["revenue_per_hour_at_risk"] == 1025.0


def test_analyze_text_names_spofs(tmp_path: Path, run_cli) -> None:
    out = run_cli("analyze", model_file(tmp_path)).stdout
    assert "Single points of failure" in out and "db" in out


def test_schema_is_valid_json_schema_and_accepts_the_demo(run_cli) -> None:
    result = run_cli("schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for name in ("acme-shop.yaml", "vendors.yaml", "aws-us-east-1.yaml"):
        doc = yaml.safe_load((DEMO.parent / name).read_text())
        jsonschema.validate(doc, schema)
    bad = {"version": 1, "components": {"a": {"requries": []}}}
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        pass
    else:  # pragma: no cover - the schema must forbid unknown keys
        raise AssertionError("schema accepted an unknown key")


def test_demo_tells_the_dynamodb_story(run_cli) -> None:
    result = run_cli("demo")
    assert result.exit_code == 0
    assert "dynamodb.us-east-1.amazonaws.com" in result.stdout
    assert "checkout" in result.stdout and "$125,000" in result.stdout
    data = json.loads(run_cli("demo", "-f", "json").stdout)
    assert "ddb-dns" in data["spofs"] and "ddb-dns" in data["hidden_spofs"]
    assert data["chain"][0] == "checkout" and data["chain"][-1] == "ddb-dns"
    assert "checkout" in data["blast"]["down"]
    assert data["survivors"] == ["catalog"]


def test_examples_link_points_at_the_demo() -> None:
    example = DEMO.parents[3] / "examples" / "acme-shop" / "acme-shop.yaml"
    assert example.read_text() == DEMO.read_text()
