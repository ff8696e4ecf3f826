"""Shared test helpers: running the CLI in-process, and where the shared benchmark data lives."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEMO = REPO / "src" / "aftershock" / "demo" / "acme-shop.yaml"


@dataclass
class CliResult:
    """Exit code and captured output of one `aftershock` invocation."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run `aftershock ARGS...` through the real entry point (error handling included)."""
    from aftershock.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["aftershock", *map(str, args)])
        monkeypatch.setenv("COLUMNS", "200")
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
