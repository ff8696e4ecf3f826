"""`aftershock check`: policy parsing, every rule, baseline comparison, exit codes, JUnit, Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.errors import AftershockError
from aftershock.gate.availability import enumerated_unavailability
from aftershock.gate.check import check_model
from aftershock.gate.policy import PolicyError, load_policy_text
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.report.junit import junit_xml
from aftershock.report.markdown import check_markdown
from tests.conftest import DEMO

# web needs api; api runs on two hosts (any_of); both hosts need db; the new version adds a cache
# that api requires (a new SPOF) and a cycle between api and a config service.
BASE = """
version: 1
name: shop
components:
  db: {kind: datastore, unavailability: 0.001, placement: {region: eu-1}}
  host-a: {requires: [db], unavailability: 0.01, placement: {region: eu-1}}
  host-b: {requires: [db], unavailability: 0.01, placement: {region: eu-2}}
  api: {any_of: [host-a, host-b], tags: {tier: 1}}
  web: {requires: [api], impact: {revenue_per_hour: 1000}, tags: {tier: 1}, unavailability: 0.002}
"""
NEW = BASE.replace(
    "api: {any_of: [host-a, host-b], tags: {tier: 1}}",
    "api: {requires: [pool, cache], tags: {tier: 1}, unavailability: 0}\n"
    "  pool: {any_of: [host-a, host-b]}\n"
    "  cache: {unavailability: 0.005, requires: [config]}\n"
    "  config: {unavailability: 0.001, requires: [cache]}",
)
POLICY = """
version: 1
rules:
  - {rule: no_spof, where: {tags: {tier: 1}}}
  - {rule: min_availability, target: web, value: 0.99}
  - {rule: no_hard_cycles}
  - {rule: no_single_region, target: web}
  - {rule: max_blast_revenue_per_hour, value: 500}
"""


def graph_of(text: str):
    return compile_model(load_model_text(text))


def outcome(result, rule: str, target: str):
    return next(o for o in result.outcomes if o.rule.rule == rule and o.target == target)


def test_every_rule_on_the_base_model() -> None:
    result = check_model(graph_of(BASE), load_policy_text(POLICY))
    # db is a SPOF of web and api (both hosts need it); host-a and host-b are not.
    spof = outcome(result, "no_spof", "web")
    assert sorted(v.subject for v in spof.violations) == ["db"]
    assert outcome(result, "no_spof", "api").status == "fail"
    assert outcome(result, "no_hard_cycles", "model").status == "pass"
    # web is placed nowhere but db is in eu-1: losing eu-1 takes web down, eu-2 does not.
    region = outcome(result, "no_single_region", "web")
    assert [v.subject for v in region.violations] == ["eu-1"]
    # The largest blast (db or web) puts $1000/h at risk, over the $500 limit.
    blast = outcome(result, "max_blast_revenue_per_hour", "model")
    assert blast.measured == 1000 and {v.subject for v in blast.violations} == {"db", "web"}
    assert not result.passed


def test_availability_is_exact_for_series_and_parallel() -> None:
    graph = graph_of(BASE)
    # web down = web | db | (host-a & host-b): independent events.
    p_up = (1 - 0.002) * (1 - 0.001) * (1 - 0.01 * 0.01)
    assert enumerated_unavailability(graph, "web") == pytest.approx(1 - p_up, rel=1e-12)
    result = check_model(graph, load_policy_text(POLICY))
    avail = outcome(result, "min_availability", "web")
    assert avail.measured == pytest.approx(p_up, rel=1e-12) and avail.status == "pass"
    strict = load_policy_text("rules: [{rule: min_availability, target: web, value: 0.9999}]")
    assert check_model(graph, strict).outcomes[0].status == "fail"


def test_availability_with_k_of_n_matches_a_hand_count() -> None:
    graph = graph_of(
        """
components:
  a: {unavailability: 0.1}
  b: {unavailability: 0.2}
  c: {unavailability: 0.3}
  q: {k_of_n: {k: 2, of: [a, b, c]}}
"""
    )
    # q is down when at least two of three are down.
    pa, pb, pc = 0.1, 0.2, 0.3
    two = pa * pb * (1 - pc) + pa * (1 - pb) * pc + (1 - pa) * pb * pc + pa * pb * pc
    assert enumerated_unavailability(graph, "q") == pytest.approx(two, rel=1e-12)


def test_missing_failure_data_is_a_located_error() -> None:
    graph = graph_of("components:\n  a: {}\n  t: {requires: [a], unavailability: 0.1}\n")
    policy = load_policy_text("rules:\n  - {rule: min_availability, target: t, value: 0.9}\n")
    with pytest.raises(AftershockError) as err:
        check_model(graph, policy)
    assert "no failure data: a" in str(err.value) and err.value.line == 2


def test_baseline_marks_old_violations_known_and_new_ones_failing() -> None:
    result = check_model(graph_of(NEW), load_policy_text(POLICY), baseline=graph_of(BASE))
    spof = outcome(result, "no_spof", "web")
    new = sorted(v.subject for v in spof.violations if not v.known)
    known = sorted(v.subject for v in spof.violations if v.known)
    assert known == ["db"]
    assert new == ["cache", "config"]  # the PR added the cache and its config cycle
    assert spof.status == "fail"
    cycles = outcome(result, "no_hard_cycles", "model")
    assert cycles.status == "fail" and cycles.violations[0].subject == "{cache, config}"
    region = outcome(result, "no_single_region", "web")
    assert region.status == "known"  # eu-1 was already fatal
    assert not result.passed


def test_same_model_as_baseline_passes() -> None:
    result = check_model(graph_of(BASE), load_policy_text(POLICY), baseline=graph_of(BASE))
    assert result.passed
    assert result.counts["fail"] == 0 and result.counts["known"] > 0


def test_demo_tier1_spofs_include_the_dynamodb_dns_record() -> None:
    from aftershock.cli.app import load_graph

    policy = load_policy_text("rules: [{rule: no_spof, target: checkout}]")
    result = check_model(load_graph(DEMO), policy)
    assert "ddb-dns" in {v.subject for v in result.outcomes[0].violations}


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("rules: [{rule: no_spoff}]", "unknown rule 'no_spoff'", 1),
        ("rules:\n  - {rule: min_availability, target: web}\n", "missing key 'value'", 2),
        ("rules:\n  - {rule: min_availability, target: web, value: 99.95}\n", "not in (0, 1]", 2),
        ("rules:\n  - {rule: no_spof, targt: web}\n", "unknown key 'targt'", 2),
        ("rules:\n  - {rule: no_hard_cycles, target: web}\n", "unknown key 'target'", 2),
        ("rules:\n  - {rule: no_spof, where: {tag: {tier: 1}}}\n", "unknown key 'tag' in where", 2),
        ("version: 2\nrules: [{rule: no_hard_cycles}]\n", "unsupported policy version", 1),
        ("rules: []\n", "non-empty list", 1),
        ("- rule: no_spof\n", "a policy is a mapping", 1),
        ("rules:\n  - {rule: max_blast_revenue_per_hour, value: lots}\n", "must be a number", 2),
        ("rules:\n  - {rule: no_spof, target: a, targets: [b]}\n", "not both", 2),
        ("rules:\n  - rule: no_hard_cycles\n  - rule: no_hard_cycles\n", "two rules are named", 3),
    ],
)
def test_bad_policies_are_located(text: str, message: str, line: int) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy_text(text, path="p.yaml")
    assert message in err.value.message
    assert err.value.file == "p.yaml" and err.value.line == line


def test_misspelt_rule_gets_a_did_you_mean() -> None:
    with pytest.raises(PolicyError) as err:
        load_policy_text("rules: [{rule: no_spoff}]")
    assert "no_spof" in (err.value.hint or "")


def test_unknown_target_and_empty_selection_are_errors_naming_the_rule() -> None:
    graph = graph_of(BASE)
    with pytest.raises(AftershockError) as err:
        check_model(graph, load_policy_text("rules:\n  - {rule: no_spof, target: wbe}\n"))
    assert "no component named 'wbe'" in err.value.message and "'web'" in (err.value.hint or "")
    assert err.value.line == 2
    with pytest.raises(AftershockError) as err:
        check_model(graph, load_policy_text("rules: [{rule: no_spof, where: {tags: {tier: 9}}}]"))
    assert "selects no component" in err.value.message and "tier: 1" in (err.value.hint or "")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["rule", "rules", "version", "target", "targets", "where", "value",
                             "tags", "kind", "names", "name", "no_spof", "x"]),
            children,
            max_size=4,
        ),
        max_leaves=12,
    )
)
def test_policy_parser_never_crashes(data: object) -> None:
    """Any JSON document is either a policy or one located PolicyError, never another exception."""
    try:
        load_policy_text(json.dumps(data), path="fuzz.json")
    except AftershockError as exc:
        assert exc.file == "fuzz.json"


def test_junit_has_one_testcase_per_rule_and_target(tmp_path: Path) -> None:
    result = check_model(graph_of(NEW), load_policy_text(POLICY), baseline=graph_of(BASE))
    root = ET.fromstring(junit_xml(result))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(result.outcomes)
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == result.counts["fail"] == int(root.find("testsuite").get("failures"))
    web = next(c for c in cases if c.get("name").startswith("no_spof") and "[web]" in c.get("name"))
    assert "cache" in web.find("failure").get("message")
    assert "already in the baseline" in web.find("system-out").text


def test_junit_survives_names_xml_cannot_hold() -> None:
    graph = graph_of('components:\n  "a\\u0001<b>&": {}\n  t: {requires: ["a\\u0001<b>&"], tags: {tier: 1}}\n')
    result = check_model(graph, load_policy_text("rules: [{rule: no_spof}]"))
    root = ET.fromstring(junit_xml(result))  # parses: control characters replaced, specials escaped
    assert "<b>&" in root.find(".//failure").text


def test_markdown_escapes_names() -> None:
    graph = graph_of('components:\n  "x|<img src=y>": {}\n  t: {requires: ["x|<img src=y>"], tags: {tier: 1}}\n')
    text = check_markdown(check_model(graph, load_policy_text("rules: [{rule: no_spof}]")).to_dict())
    assert "<img" not in text and "&lt;img" in text
    assert "x\\|" in text  # a pipe cannot break the table
    row = next(line for line in text.splitlines() if line.startswith("| no\\_spof"))
    assert "single point(s) of failure<br>x\\|&lt;img" in row  # the SPOF is named in the row
    assert "❌" in text


def test_cli_exit_codes_and_outputs(run_cli, tmp_path: Path) -> None:
    base, new, policy = tmp_path / "base.yaml", tmp_path / "new.yaml", tmp_path / "policy.yaml"
    base.write_text(BASE)
    new.write_text(NEW)
    policy.write_text(POLICY)
    junit, md, html = tmp_path / "junit.xml", tmp_path / "check.md", tmp_path / "check.html"
    failing = run_cli("check", new, "--policy", policy, "--baseline", base, "--junit", junit,
                      "--markdown", md, "--html", html)
    assert failing.exit_code == 1, failing.stderr
    assert "already in baseline" in failing.stdout and "new:" in failing.stdout
    assert ET.parse(junit).getroot().tag == "testsuites"
    assert "aftershock check" in md.read_text()
    page = html.read_text()
    assert 'id="check"' in page and 'id="cy"' in page and "new: cache alone takes web down" in page
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rules: [{rule: no_spof, target: web}]\n")
    assert run_cli("check", base, "--policy", lenient, "--baseline", base).exit_code == 0
    as_json = run_cli("check", base, "--policy", lenient, "--format", "json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["kind"] == "check"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {rule: nope}\n")
    broken = run_cli("check", base, "--policy", bad)
    assert broken.exit_code == 2 and "bad.yaml:2" in broken.stderr
    missing = run_cli("check", base, "--policy", tmp_path / "none.yaml")
    assert missing.exit_code == 2


def test_example_policy_runs_on_the_demo(run_cli) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "policy.yaml"
    result = run_cli("check", DEMO, "--policy", example, "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1  # the demo's point: checkout has hidden SPOFs
    assert {o["rule"] for o in data["outcomes"]} == {
        "no_spof", "min_availability", "no_hard_cycles", "no_single_region",
        "max_blast_revenue_per_hour",
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_factoring_out_spofs_changes_nothing(data) -> None:
    """SPOF factoring equals brute-force enumeration over every basic event, on random models."""
    n = data.draw(st.integers(3, 9))
    lines = ["components:"]
    for i in range(n):
        earlier = [f"c{j}" for j in range(i)]
        deps = data.draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []
        p = data.draw(st.sampled_from([0.0, 0.01, 0.1, 0.3]))
        if len(deps) >= 2 and data.draw(st.booleans()):
            k = data.draw(st.integers(1, len(deps)))
            lines.append(f"  c{i}: {{k_of_n: {{k: {k}, of: [{', '.join(deps)}]}}, unavailability: {p}}}")
        else:
            lines.append(f"  c{i}: {{requires: [{', '.join(deps)}], unavailability: {p}}}")
    graph = graph_of("\n".join(lines) + "\n")
    target = f"c{n - 1}"
    assert enumerated_unavailability(graph, target) == pytest.approx(
        enumerated_unavailability(graph, target, factor_spofs=False), rel=1e-9, abs=1e-15
    )


def test_a_long_serial_chain_is_no_harder_than_a_short_one() -> None:
    lines = ["components:"] + [f"  c{i}: {{requires: [c{i - 1}], unavailability: 0.001}}"
                               for i in range(1, 60)] + ["  c0: {unavailability: 0.001}"]
    graph = graph_of("\n".join(lines) + "\n")
    assert enumerated_unavailability(graph, "c59") == pytest.approx(1 - 0.999**60, rel=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_bdd_and_the_enumeration_agree(data) -> None:
    """min_availability uses the fault-tree BDD; the kernel's enumeration must give the same."""
    from aftershock.gate.availability import target_unavailability

    n = data.draw(st.integers(3, 8))
    lines = ["components:"]
    for i in range(n):
        others = [f"c{j}" for j in range(n) if j != i]
        deps = data.draw(st.lists(st.sampled_from(others), max_size=2, unique=True))  # cycles too
        p = data.draw(st.sampled_from([0.0, 0.02, 0.2]))
        if len(deps) == 2 and data.draw(st.booleans()):
            lines.append(f"  c{i}: {{any_of: [{', '.join(deps)}], unavailability: {p}}}")
        else:
            lines.append(f"  c{i}: {{requires: [{', '.join(deps)}], unavailability: {p}}}")
    graph = graph_of("\n".join(lines) + "\n")
    estimate = target_unavailability(graph, "c0")
    assert estimate.method.startswith("exact: BDD")
    assert estimate.unavailability == pytest.approx(enumerated_unavailability(graph, "c0"),
                                                    rel=1e-9, abs=1e-15)


def test_no_single_region_without_any_placement_is_an_error_not_a_pass() -> None:
    graph = graph_of("components:\n  a: {}\n  web: {requires: [a], tags: {tier: 1}}\n")
    with pytest.raises(AftershockError) as err:
        check_model(graph, load_policy_text("rules: [{rule: no_single_region}]"))
    assert "placement" in err.value.message


def test_a_component_of_kind_region_is_a_region_too() -> None:
    graph = graph_of(
        """
components:
  east: {kind: region}
  west: {kind: region}
  api-east: {requires: [east]}
  api-west: {requires: [west]}
  api: {any_of: [api-east, api-west], tags: {tier: 1}}
  db: {requires: [east], tags: {tier: 1}}
"""
    )
    result = check_model(graph, load_policy_text("rules: [{rule: no_single_region}]"))
    assert outcome(result, "no_single_region", "api").status == "pass"
    assert [v.subject for v in outcome(result, "no_single_region", "db").violations] == ["east"]
