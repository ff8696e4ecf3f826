"""Model format v1: valid models load; every bad input is one located error with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftershock.errors import ModelError
from aftershock.model.compile import compile_model
from aftershock.model.durations import parse_duration
from aftershock.model.load import load_model, load_model_text

VALID = """\
version: 1
name: acme-shop
include: [vendors.yaml]
components:
  checkout:
    kind: service
    requires: [cart-db, payments]
    uses: [recommendations]
    impact: {revenue_per_hour: 120000, degraded_loss: 0.2}
    tags: {tier: 1, team: web}
  recommendations: {}
  auth:
    any_of: [auth-use1, auth-usw2]
    failover: 2m
  auth-use1: {}
  auth-usw2: {}
  ledger:
    k_of_n: {k: 2, of: [db-a, db-b, db-c]}
  db-a: {}
  db-b: {}
  db-c: {}
  api-dns:
    kind: dns_record
    record: api.acme.example
    ttl: 60s
    negative_ttl: 5m
    requires: [api-lb]
  api-lb: {}
  cart-db:
    kind: datastore
    unavailability: 0.0005
"""
VENDORS = """\
version: 1
components:
  payments:
    kind: saas
    failure: {rate_per_year: 4, mean_duration: 45m}
"""


def write(tmp_path: Path, text: str, name: str = "model.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str, **files: str) -> ModelError:
    for name, body in files.items():
        write(tmp_path, body, name.replace("_", ".", 1) if "." not in name else name)
    with pytest.raises(ModelError) as info:
        load_model(write(tmp_path, text))
    return info.value


def test_issue_example_loads_with_include(tmp_path: Path) -> None:
    write(tmp_path, VENDORS, "vendors.yaml")
    model = load_model(write(tmp_path, VALID))
    assert model.name == "acme-shop"
    assert set(model.components) >= {"checkout", "payments", "ledger", "api-dns"}
    checkout = model.components["checkout"]
    assert checkout.impact is not None and checkout.impact.revenue_per_hour == 120000
    assert model.components["auth"].failover == 120.0
    assert (
        model.components["api-dns"].ttl == 60.0
        and model.components["api-dns"].negative_ttl == 300.0
    )
    payments = model.components["payments"]
    assert payments.own_unavailability == pytest.approx(4 * 45 * 60 / (8760 * 3600))
    graph = compile_model(model)
    assert graph.group_k[graph.index["ledger"]] == 2
    assert graph.group_k[graph.index["auth"]] == 1
    assert not graph.can_fail[graph.index["auth"]]  # a logical group cannot fail by itself
    assert graph.can_fail[graph.index["cart-db"]]


def test_json_model_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path, '{"version": 1, "components": {"a": {"requires": ["b"]}, "b": {}}}', "m.json"
    )
    assert set(load_model(path).components) == {"a", "b"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("100ms", 0.1),
        (5, 5),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


# --- one test per bad input -------------------------------------------------------------------


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  a: {requires: [b}\n")
    assert err.file and err.file.endswith("model.yaml")
    assert err.line == 3
    assert "YAML syntax" in err.message and err.hint


def test_non_mapping_document(tmp_path: Path) -> None:
    err = load_error(tmp_path, "- a\n- b\n")
    assert "mapping" in err.message and err.line == 1 and err.hint


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  api:\n    requries: [db]\n  db: {}\n")
    assert err.message.startswith("unknown key 'requries'")
    assert (err.line, err.column) == (4, 5)
    assert err.component == "api"
    assert err.hint and "requires" in err.hint


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponent:\n  a: {}\n")
    assert "unknown key 'component'" in err.message and err.line == 2
    assert err.hint and "components" in err.hint


def test_unknown_reference_with_did_you_mean(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, "version: 1\ncomponents:\n  api:\n    requires: [cart-dbb]\n  cart-db: {}\n"
    )
    assert "unknown component 'cart-dbb'" in err.message
    assert err.component == "api" and err.line == 4
    assert err.hint and "cart-db" in err.hint


def test_duplicate_name_across_includes(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\ncomponents:\n  db: {}\n", "other.yaml")
    err = load_error(tmp_path, "version: 1\ninclude: [other.yaml]\ncomponents:\n  db: {}\n")
    assert "defined twice" in err.message and err.component == "db"
    assert err.hint and "rename" in err.hint


def test_wrong_type(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  api:\n    requires: db\n")
    assert err.component == "api" and err.line == 4
    assert "requires" in err.message and "list" in err.message


def test_k_larger_than_group(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        "version: 1\ncomponents:\n  g:\n    k_of_n: {k: 3, of: [a, b]}\n  a: {}\n  b: {}\n",
    )
    assert "larger than the group" in err.message and err.component == "g"
    assert err.line is not None and err.hint


def test_bad_duration(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        "version: 1\ncomponents:\n  d:\n    kind: dns_record\n    record: x.example\n    ttl: 5 minutes\n",
    )
    assert "duration" in err.message and err.line == 6
    assert err.hint and "90s" in err.hint


def test_missing_include(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ninclude: [nope.yaml]\ncomponents: {}\n")
    assert "not found" in err.message and err.line == 2 and err.hint


def test_include_of_itself(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ninclude: [model.yaml]\ncomponents: {}\n")
    assert "includes itself" in err.message and err.line == 2


def test_include_loop_through_another_file(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\ninclude: [model.yaml]\ncomponents: {}\n", "b.yaml")
    err = load_error(tmp_path, "version: 1\ninclude: [b.yaml]\ncomponents: {}\n")
    assert "includes itself" in err.message and err.file and err.file.endswith("b.yaml")


def test_empty_file(tmp_path: Path) -> None:
    err = load_error(tmp_path, "")
    assert "empty" in err.message and err.hint


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    lines.append("components: {}")
    err = load_error(tmp_path, "\n".join(lines) + "\n")
    assert "expands" in err.message and err.hint


def test_file_over_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aftershock.model import source

    monkeypatch.setattr(source, "MAX_FILE_BYTES", 100)
    err = load_error(
        tmp_path, "version: 1\ncomponents:\n" + "".join(f"  c{i}: {{}}\n" for i in range(20))
    )
    assert "over the limit" in err.message and err.hint


def test_unsafe_yaml_tag_is_refused(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents: !!python/object/apply:os.system ['true']\n")
    assert "YAML" in err.message


def test_unknown_kind_with_did_you_mean(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  db:\n    kind: datastor\n")
    assert "unknown kind" in err.message and err.hint and "datastore" in err.hint
    assert err.line == 4


def test_wrong_version(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 2\ncomponents: {}\n")
    assert "version" in err.message and err.line == 1


def test_dns_keys_only_on_dns_records(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  api:\n    ttl: 60s\n")
    assert "dns_record" in err.message and err.line == 4


def test_probability_out_of_range(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  db: {unavailability: 1.5}\n")
    assert "unavailability" in err.message and err.line == 3


def test_duplicate_group_member(tmp_path: Path) -> None:
    err = load_error(tmp_path, "version: 1\ncomponents:\n  g: {any_of: [a, a]}\n  a: {}\n")
    assert "listed twice" in err.message


def test_error_text_has_file_line_column_and_hint() -> None:
    with pytest.raises(ModelError) as info:
        load_model_text("version: 1\ncomponents:\n  a: {requires: [bb]}\n  b: {}\n", path="m.yaml")
    text = str(info.value)
    assert text.startswith("m.yaml:3:")
    assert "component 'a'" in text and "hint: did you mean 'b'?" in text


def test_common_cause_defined_twice_across_includes(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\ncommon_causes:\n  use1: {region: us-east-1}\n", "other.yaml")
    err = load_error(
        tmp_path, "version: 1\ninclude: [other.yaml]\ncommon_causes:\n  use1: {region: us-east-1}\n"
    )
    # The including file is read first, so the second definition is the included one.
    assert "common cause is defined twice" in err.message and "model.yaml:4" in err.message
    assert err.file and err.file.endswith("other.yaml") and err.line == 3 and err.hint
