"""The HTML report: self-contained, escaped, and the graph it embeds agrees with the analysis."""

from __future__ import annotations

import json
import os
import re
from html import escape as html_escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftershock.analysis.structure import all_single_points_of_failure, blast_radius
from aftershock.cli.app import load_graph
from aftershock.errors import AftershockError
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.report.html import (
    ASSETS,
    build_bundle,
    detect_kind,
    graph_view,
    render_html,
    safe_json,
    write_html_report,
)
from aftershock.report.markdown import report_markdown
from tests.conftest import DEMO

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "report"
EVIL = "<script>alert(1)</script>"
EVIL_MODEL = f"""
version: 1
name: "evil </title><script>alert(2)</script>"
description: "desc <img src=x onerror=alert(3)>"
components:
  "{EVIL}":
    description: "</script><script>alert(4)</script>"
    tags: {{owner: "<b onmouseover=alert(5)>"}}
    unavailability: 0.01
  web:
    requires: ["{EVIL}"]
    impact: {{revenue_per_hour: 100}}
"""


def evil_graph():
    return compile_model(load_model_text(EVIL_MODEL))


def test_safe_json_cannot_close_a_script_element() -> None:
    value = {"name": "</script><!--\u2028\u2029&", "n": float("nan")}
    text = safe_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"name": value["name"], "n": None}


def test_user_strings_never_reach_the_page_as_markup() -> None:
    graph = evil_graph()
    check = {"kind": "check", "model": EVIL, "policy": "p", "baseline": None, "passed": False,
             "counts": {"pass": 0, "fail": 1, "known": 0},
             "outcomes": [{"rule": "no_spof", "name": EVIL, "target": "web", "status": "fail",
                           "value": None, "measured": 1, "detail": EVIL,
                           "violations": [{"key": "k", "subject": EVIL, "message": EVIL, "new": True}]}]}
    page = render_html(build_bundle([check, {"weird": EVIL}], graph=graph))
    # Static check: no user-supplied tag survives anywhere in the page.
    for needle in ("alert(1)</script>", "<script>alert", "<img src=x", "<b onmouseover"):
        assert needle not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text in the tables
    # Exactly our scripts: the JSON data, the vendored libraries and the report's own code.
    assert len(re.findall(r"<script\b", page)) == 1 + len(ASSETS) + 1
    # The embedded data still carries the exact names.
    data = re.search(r'<script type="application/json" id="aftershock-data">(.*?)</script>', page, re.S)
    bundle = json.loads(data.group(1))
    assert EVIL in [n["name"] for n in bundle["graph"]["nodes"]]


def test_the_page_loads_nothing_from_the_network() -> None:
    page = render_html(build_bundle([], graph=load_graph(DEMO)))
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "connect-src 'none'" in page  # the CSP forbids fetches even if a library tried


def test_graph_view_agrees_with_blast_radius_and_spofs() -> None:
    graph = compile_model(
        load_model_text(
            """
components:
  a: {}
  b: {}
  grp: {k_of_n: {k: 2, of: [a, b, c]}}
  c: {}
  x: {requires: [y]}
  y: {requires: [x, grp]}
  web: {requires: [y], uses: [s], impact: {revenue_per_hour: 10, degraded_loss: 0.5}}
  s: {}
  idle: {unavailability: 0}
"""
        )
    )
    view = graph_view(graph)
    names = [n["name"] for n in view["nodes"]]
    spofs = all_single_points_of_failure(graph, names)
    for node in view["nodes"]:
        assert sorted(names[i] for i in node["spofs"]) == spofs[node["name"]]
        if node["can_fail"]:
            expected = blast_radius(graph, [node["name"]])
            assert sorted(names[i] for i in node["blast"]["down"]) == expected.down
            assert sorted(names[i] for i in node["blast"]["degraded"]) == expected.degraded
            assert node["blast"]["revenue_per_hour_at_risk"] == expected.revenue_per_hour_at_risk
        else:
            assert node["blast"]["down"] == []
    assert view["cycles"] == [["x", "y"]]
    kinds = {tuple(e[:2]): e[2] for e in view["edges"]}
    assert kinds[(names.index("web"), names.index("s"))] == "uses"
    assert kinds[(names.index("grp"), names.index("c"))] == "member"


def test_graph_view_on_the_demo_matches_the_cli_spofs() -> None:
    graph = load_graph(DEMO)
    view = graph_view(graph)
    names = [n["name"] for n in view["nodes"]]
    checkout = view["nodes"][names.index("checkout")]
    assert sorted(names[i] for i in checkout["spofs"]) == all_single_points_of_failure(
        graph, ["checkout"])["checkout"]
    assert "ddb-dns" in [names[i] for i in checkout["spofs"]]


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        ({"counts": {}, "spofs": {}, "cycles": []}, "analysis"),
        ({"failed": ["a"], "down": ["a"], "degraded": []}, "blast"),
        ({"targets": {"web": ["db"]}}, "spof"),
        ({"target": "web", "spofs": ["db"]}, "spof"),
        ({"windows": {"a": []}}, "simulation"),
        ({"windows": {}, "recorded": {}}, "replay"),
        ({"targets": {"web": {"downtime_hours": {"mean": 1}}}, "contributors": []}, "risk"),
        ({"mitigations": []}, "whatif"),
        ({"top_event": "web", "probability": 0.1, "cut_sets": []}, "faulttree"),
        ({"kind": "check", "outcomes": []}, "check"),
        ({"kind": "novel"}, "novel"),
        ({"something": 1}, "unknown"),
    ],
)
def test_detect_kind(result: dict, kind: str) -> None:
    assert detect_kind(result) == kind


def test_every_section_renders_from_fixture_results(tmp_path: Path) -> None:
    results = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]
    results.append({"top_event": "checkout", "probability": 0.0019, "mcs_count": 2,
                    "cut_sets": [{"events": ["ddb-dns"], "probability": 3e-5}], "approximations": {}})
    out = write_html_report(results, tmp_path / "r.html", graph=load_graph(DEMO))
    page = out.read_text()
    for section in ('id="graph"', 'id="timeline"', 'id="loss"', 'id="whatif"', 'id="faulttree"',
                    'id="spof"', 'id="cycles"', 'id="blast"', 'id="clock-slider"'):
        assert section in page
    assert "Serve stale answers for the DynamoDB endpoint" in page  # the what-if table
    assert "Expected loss from outages" in page  # the risk story line
    assert "ddb-dns failed first" in page  # the story line of the replay


def test_a_bundle_round_trips_through_the_cli(run_cli, tmp_path: Path) -> None:
    analysis = run_cli("analyze", DEMO, "--format", "json")
    result = tmp_path / "analysis.json"
    result.write_text(analysis.stdout)
    bundle, html, md = tmp_path / "b.json", tmp_path / "r.html", tmp_path / "r.md"
    made = run_cli("report", result, "--model", DEMO, "-o", html, "--bundle", bundle, "--markdown", md)
    assert made.exit_code == 0, made.stderr
    again = run_cli("report", bundle, "-o", tmp_path / "again.html")
    assert again.exit_code == 0 and "no graph" not in again.stdout
    assert 'id="cy"' in (tmp_path / "again.html").read_text()
    assert "checkout" in md.read_text() and "Single points of failure" in md.read_text()


def test_bad_result_files_are_located_errors(run_cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"windows": {\n  "a": [}\n')
    result = run_cli("report", broken, "-o", tmp_path / "r.html")
    assert result.exit_code == 2 and "broken.json:2" in result.stderr
    assert run_cli("report", tmp_path / "missing.json").exit_code == 2
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    assert run_cli("report", listing, "-o", tmp_path / "r.html").exit_code == 2


def test_write_html_report_accepts_result_objects(tmp_path: Path) -> None:
    graph = load_graph(DEMO)
    out = write_html_report(blast_radius(graph, ["ddb-dns"]), tmp_path / "b.html", graph=graph)
    assert "If ddb-dns fail" in out.read_text()
    with pytest.raises(AftershockError):
        write_html_report({"a": 1}, tmp_path / "no-such-dir" / "x.html")


def test_markdown_summary_tells_the_story() -> None:
    replay = json.loads((FIXTURES / "replay.json").read_text())
    text = report_markdown(build_bundle([replay], graph=load_graph(DEMO)))
    assert "ddb-dns failed first" in text
    assert "| checkout | down | T+1.5 min | T+2 h 57 min |" in text
    assert "| checkout |" in text


def test_a_real_simulation_renders_with_its_root_cause(run_cli, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "version: 1\nduration: 3h\nstep: 5s\n"
        "faults:\n  - {target: ddb-dns, kind: dns_empty, at: 10m, for: 1h}\n"
    )
    sim = run_cli("simulate", DEMO, scenario, "--format", "json")
    assert sim.exit_code == 0, sim.stderr
    result = tmp_path / "sim.json"
    result.write_text(sim.stdout)
    html = tmp_path / "sim.html"
    assert run_cli("report", result, "--model", DEMO, "-o", html).exit_code == 0
    page = html.read_text()
    assert 'id="timeline"' in page and 'id="clock-slider"' in page
    # The whole chain fails in the same step; the story names where it began.
    assert "<li>ddb-dns failed first (at 10 min)" in page


@pytest.mark.slow
def test_real_risk_and_whatif_results_render(run_cli, tmp_path: Path) -> None:
    mitigations = Path(__file__).resolve().parents[1] / "examples" / "mitigations.yaml"
    if not mitigations.exists():
        pytest.skip("examples/mitigations.yaml (the risk engine's example) is not in this checkout")
    risk = run_cli("risk", DEMO, "-n", "2000", "--format", "json")
    whatif = run_cli("whatif", DEMO, mitigations, "-n", "500", "--format", "json")
    assert risk.exit_code == 0 and whatif.exit_code == 0, risk.stderr + whatif.stderr
    (tmp_path / "risk.json").write_text(risk.stdout)
    (tmp_path / "whatif.json").write_text(whatif.stdout)
    html = tmp_path / "r.html"
    made = run_cli("report", tmp_path / "risk.json", tmp_path / "whatif.json", "--model", DEMO, "-o", html)
    assert made.exit_code == 0 and "risk, whatif" in made.stdout
    page = html.read_text()
    total = json.loads(risk.stdout)["total_loss"]["mean"]
    assert f"Expected loss from outages: ${total:,.0f} a year" in page
    first = json.loads(whatif.stdout)["mitigations"][0]["name"]
    assert f"<b>{html_escape(first)}</b>" in page  # the ranked table, best first


def test_the_replay_engine_output_shows_recorded_beside_simulated() -> None:
    raw = json.loads((FIXTURES / "replay-aws-us-east-1-2025-10.json").read_text())
    bundle = build_bundle([raw])
    data = bundle["results"][0]["data"]
    assert bundle["results"][0]["kind"] == "replay"
    matched = [m for m in raw["windows"] if m["recorded"] and m["simulated"]]
    for m in matched:
        service = m["service"]
        assert {"start": m["recorded"]["start_s"], "end": m["recorded"]["end_s"]}.items() <= next(
            w for w in data["recorded"][service] if w["start"] == m["recorded"]["start_s"]).items()
        assert any(w["start"] == m["simulated"]["start_s"] for w in data["windows"][service])
    page = render_html(bundle)
    assert f"reproduces {raw['reproduced']} of the {raw['recorded']} recorded windows" in page
    assert "Replay against the record" in page and 'id="gantt"' in page


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["windows", "recorded", "series", "loss", "summary", "targets", "kind",
                         "start", "end", "state", "t_s", "goodput", "contributors", "mitigations",
                         "outcomes", "policy", "counts", "spofs", "top_event", "probability", "a",
                         "violations", "top_blast_radius", "targets_down", "cycles", "cut_sets",
                         "failed", "down", "degraded", "name", "share", "expected_loss", "baseline",
                         "loss_removed", "loss_removed_ci95", "rank", "matches", "service",
                         "loss_histogram", "loss_exceedance", "edges", "counts", "notes", "mean"]),
        children,
        max_size=5,
    ),
    max_leaves=15,
)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["windows", "recorded", "series", "loss", "summary", "kind",
                                        "targets", "outcomes", "mitigations", "counts", "spofs",
                                        "top_blast_radius", "cycles", "policy", "failed", "down",
                                        "degraded", "top_event", "probability", "cut_sets",
                                        "contributors", "loss_histogram", "x"]), JSON, max_size=6))
def test_any_json_object_renders_or_fails_cleanly(result: dict) -> None:
    """Whatever a result holds, the page renders (sections it cannot read are skipped or shown raw)."""
    try:
        bundle = build_bundle([result])
    except AftershockError:
        return
    page = render_html(bundle)
    assert report_markdown(bundle).startswith("# ")
    assert page.count("<script") == 1 + len(ASSETS) + 1
    data = build_bundle([result])["results"][0]["data"]
    if detect_kind(result) in ("simulation", "replay"):
        for ws in data["windows"].values():
            assert all(isinstance(w["end"], int | float | str) for w in ws)


def test_availability_output_becomes_one_fault_tree_section_per_target() -> None:
    raw = json.loads((FIXTURES / "availability.json").read_text())
    bundle = build_bundle([raw])
    assert [r["kind"] for r in bundle["results"]] == ["faulttree"] * len(raw["targets"])
    page = render_html(bundle)
    assert page.count('class="faulttree"') == len(raw["targets"])
    first = raw["targets"][0]
    assert f"Fault tree: {first['target']}" in page
    assert f"most probable of {first['mcs_count']}" in page


def test_the_html_option_helper_writes_a_report(tmp_path: Path, capsys) -> None:
    from aftershock.cli.app import write_html_option

    graph = load_graph(DEMO)
    write_html_option(None, {"a": 1})  # no path: nothing happens
    write_html_option(tmp_path / "b.html", blast_radius(graph, ["cdn"]), graph)
    assert "If cdn fail" in (tmp_path / "b.html").read_text()
    assert "wrote" in capsys.readouterr().err
