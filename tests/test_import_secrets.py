"""No secret from any input ever reaches a model or a report: the fixtures hold fake passwords,
tokens, keys and connection strings (sensitive-marked or not); every output is searched for them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aftershock.importers.secrets import looks_secret

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers"
_FAKE = re.compile(r"FAKE[A-Za-z0-9_-]*|AKIA[A-Z0-9]{16}|secret-session-\d+|s3cr3t|hunter2")


def fake_secrets() -> set[str]:
    found: set[str] = set()
    for path in FIXTURES.iterdir():
        found |= set(_FAKE.findall(path.read_text()))
    return found


def test_fixtures_do_hold_fake_secrets() -> None:
    secrets = fake_secrets()
    for expected in ("FAKE-PASSWORD-hunter2", "FAKE-DB-PASSWORD-s3cr3t", "AKIAFAKEFAKEFAKEFAKE",
                     "FAKE-CONN-PW-777", "FAKE-CF-TOKEN-555", "FAKE-URL-PW-999",
                     "FAKE-ROOT-PW-def", "FAKE-ENV-PW-ghi", "FAKE-OUTPUT-PW-abc"):
        assert expected in secrets


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_in_the_model_or_the_report(tmp_path: Path, run_cli, fmt: str) -> None:
    out = tmp_path / "model.yaml"
    inputs = sorted(str(p) for p in FIXTURES.iterdir())
    result = run_cli("import", *inputs, "-o", out, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    printed = run_cli("import", *inputs)  # the model on stdout, the report on stderr
    assert printed.exit_code == 0
    outputs = out.read_text() + result.stdout + result.stderr + printed.stdout + printed.stderr
    leaked = sorted(s for s in fake_secrets() if s in outputs)
    assert not leaked, f"secrets copied into outputs: {leaked}"
    # ...while the harmless facts around them are kept.
    assert "aws_db_instance.main" in outputs and "us-east-1b" in outputs


def test_terraform_record_whose_name_looks_like_a_credential_is_not_a_dns_record(tmp_path: Path,
                                                                                 run_cli) -> None:
    out = tmp_path / "tf.yaml"
    assert run_cli("import", FIXTURES / "terraform-show.json", "-o", out).exit_code == 0
    text = out.read_text()
    assert "cloudflare_record.www:\n    kind: endpoint" in text  # its name was dropped


@pytest.mark.parametrize(
    ("key", "value"),
    [("password", "x"), ("DB_CONNECTION_STRING", "x"), ("", "postgres://u:pw@h/db"),
     ("", "-----BEGIN RSA PRIVATE KEY-----"), ("", "AKIAABCDEFGHIJKLMNOP"),
     ("", "Server=x;Password=hunter2;"), ("api_token", "x")],
)
def test_looks_secret(key: str, value: str) -> None:
    assert looks_secret(key, value)


@pytest.mark.parametrize(("key", "value"), [("region", "us-east-1"), ("name", "api.example.com"),
                                             ("ttl", "60"), ("", "postgres://db:5432/app")])
def test_harmless_values_are_not_secrets(key: str, value: str) -> None:
    assert not looks_secret(key, value)
