"""`aftershock simulate`: text, JSON, series files, and located errors with exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aftershock.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "metastability"
MODEL, SCENARIO = EXAMPLES / "m6-dns.yaml", EXAMPLES / "m6-empty-record.yaml"


def cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["aftershock", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_text_output_lists_windows_and_loss(monkeypatch, capsys) -> None:
    assert cli(monkeypatch, "simulate", str(MODEL), str(SCENARIO)) == 0
    out = capsys.readouterr().out
    assert "api-record" in out and "down" in out and "loss app" in out and "recovered" in out


def test_json_output_and_series_file(monkeypatch, capsys, tmp_path: Path) -> None:
    series = tmp_path / "s.csv"
    code = cli(monkeypatch, "simulate", str(MODEL), str(SCENARIO), "--format", "json",
               "--series", str(series))
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["windows"]["api-record"][0]["state"] == "down"
    assert data["summary"]["recovered"] is True
    assert series.read_text().startswith("t_s,component,")


def test_bad_scenario_is_one_located_line_and_exit_2(monkeypatch, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nduration: 1h\nfaults:\n  - {target: app-record, kind: dns_empty}\n")
    assert cli(monkeypatch, "simulate", str(MODEL), str(bad)) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4:" in err and "unknown component 'app-record'" in err
    assert "did you mean 'api-record'" in err and "Traceback" not in err


def test_bad_series_suffix_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:
    assert cli(monkeypatch, "simulate", str(MODEL), str(SCENARIO), "--series",
               str(tmp_path / "s.txt")) == 2
    assert "unknown series format" in capsys.readouterr().err
