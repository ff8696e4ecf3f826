"""The HTML report in a real browser: Debian's headless Chromium driven by Playwright.

Set AFTERSHOCK_SCREENSHOTS=DIR to keep screenshots of what the tests saw.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from aftershock.analysis.structure import all_single_points_of_failure, blast_radius
from aftershock.cli.app import load_graph
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text
from aftershock.report.html import ASSETS, money, write_html_report
from tests.conftest import DEMO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-headless-shell")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian chromium is not installed (apt-get install chromium); CI installs it",
    ),
    pytest.mark.slow,
]
# Keep the browser off the network (../shared/design/STACK.md).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "report"
EVIL = "<script>alert(1)</script>"
SHOTS = os.environ.get("AFTERSHOCK_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Visit:
    """A page with everything it logged, requested and opened as a dialog."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))

        def dialog(d) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("() => window.aftershockGraph && window.aftershockGraph.nodes().length > 0")
        self.page.wait_for_timeout(300)

    def errors(self) -> list[tuple[str, str]]:
        return [(t, m) for t, m in self.console if t in ("error", "pageerror")]

    def click_node(self, name: str) -> None:
        """A real mouse click on the node's position on screen."""
        box = self.page.locator("#cy").bounding_box()
        pos = self.page.evaluate(
            """(name) => { const cy = window.aftershockGraph;
                const n = cy.nodes().filter(n => n.data('label').split('\\n')[0] === name)[0];
                cy.center(n); return n.renderedPosition(); }""",
            name,
        )
        self.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
        self.page.wait_for_timeout(150)

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    graph = load_graph(DEMO)
    results = [json.loads((FIXTURES / f"{name}.json").read_text()) for name in ("replay", "risk", "whatif")]
    path = tmp_path_factory.mktemp("report") / "demo.html"
    return write_html_report(results, path, graph=graph)


def test_demo_graph_shows_every_component(browser, demo_report: Path) -> None:
    visit = Visit(browser, demo_report)
    graph = load_graph(DEMO)
    assert visit.page.evaluate("window.aftershockGraph.nodes().length") == graph.n
    edges = len(graph.requires.indices) + len(graph.uses.indices) + len(graph.members.indices)
    edges += sum(c.resolves is not None for c in graph.components)
    assert visit.page.evaluate("window.aftershockGraph.edges().length") == edges
    # The layout ran: every node has its own place inside the canvas.
    spots = visit.page.evaluate(
        "window.aftershockGraph.nodes().map(n => [Math.round(n.position('x')), Math.round(n.position('y'))])"
    )
    assert len({tuple(s) for s in spots}) == graph.n
    visit.shot("demo-graph")
    assert visit.errors() == []
    assert visit.dialogs == []
    assert [u for u in visit.requests if not u.startswith("file:")] == []


def test_clicking_a_node_shows_its_blast_radius_and_spofs(browser, demo_report: Path) -> None:
    graph = load_graph(DEMO)
    visit = Visit(browser, demo_report)
    visit.click_node("ddb-dns")
    panel = visit.page.locator("#panel")
    assert panel.locator("h3").inner_text() == "ddb-dns"
    expected = blast_radius(graph, ["ddb-dns"])
    count = panel.locator("[data-field=blast-count]")
    assert int(count.get_attribute("data-down")) == len(expected.down)
    assert int(count.get_attribute("data-degraded")) == len(expected.degraded)
    assert money(expected.revenue_per_hour_at_risk) in panel.locator("[data-field=blast-revenue]").inner_text()
    # The graph shows the same: the blast radius painted down, the rest faded.
    painted = visit.page.evaluate("window.aftershockGraph.nodes('.st-down').length")
    assert painted == len(expected.down)
    visit.shot("demo-click-ddb-dns")
    # A target's own single points of failure.
    visit.click_node("checkout")
    spofs = all_single_points_of_failure(graph, ["checkout"])["checkout"]
    assert f"({len(spofs)})" in panel.locator("[data-field=spof-count]").inner_text()
    assert "ddb-dns" in panel.inner_text()
    assert visit.errors() == []


def test_search_zoom_and_clock(browser, demo_report: Path) -> None:
    visit = Visit(browser, demo_report)
    page = visit.page
    page.fill("#search", "dwf")
    page.press("#search", "Enter")
    page.wait_for_timeout(350)
    assert page.locator("#panel h3").inner_text() == "dwfm"
    page.click("#clear")
    zoom = page.evaluate("window.aftershockGraph.zoom()")
    box = page.locator("#cy").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(200)
    assert page.evaluate("window.aftershockGraph.zoom()") > zoom
    # The clock colours nodes by the simulated windows: what it says is what is painted.
    for position in ("0", "500", "1000"):
        page.evaluate(
            "(v) => { const s = document.getElementById('clock-slider'); s.value = v;"
            " s.dispatchEvent(new Event('input')); }",
            position,
        )
        text = page.locator("#clock").inner_text()
        down, degraded = map(int, re.search(r"(\d+) down, (\d+) degraded", text).groups())
        assert page.evaluate("window.aftershockGraph.nodes('.st-down').length") == down
        assert page.evaluate("window.aftershockGraph.nodes('.st-degraded').length") == degraded
    assert page.locator("#gantt .main-svg").count() > 0  # plotly drew the Gantt
    assert page.locator(".loss-chart .main-svg").count() >= 2  # histogram and exceedance curve
    visit.shot("demo-clock")
    assert visit.errors() == []


def test_a_hostile_component_name_runs_nothing(browser, tmp_path: Path) -> None:
    graph = compile_model(
        load_model_text(
            f"""
name: "evil </title><script>alert(2)</script>"
components:
  "{EVIL}":
    description: "</script><img src=x onerror=alert(3)>"
    tags: {{owner: "<b onmouseover=alert(5)>x</b>"}}
    unavailability: 0.01
  web: {{requires: ["{EVIL}"], impact: {{revenue_per_hour: 100}}, tags: {{tier: 1}}}}
"""
        )
    )
    sim = {"windows": {EVIL: [{"state": "down", "start": 0, "end": 60}]},
           "series": {"t_s": [0, 60], "goodput": {EVIL: [0, 1]}}}
    path = write_html_report([sim], tmp_path / "evil.html", graph=graph)
    visit = Visit(browser, path)
    page = visit.page
    page.fill("#search", EVIL)
    page.press("#search", "Enter")
    page.wait_for_timeout(350)
    visit.click_node(EVIL)
    page.locator("#gantt .barlayer .point path").first.hover(force=True)
    page.wait_for_timeout(200)
    assert page.locator("#gantt .ytick text").first.text_content() == EVIL  # plotly shows text
    assert page.locator("#panel h3").inner_text() == EVIL  # shown as text
    assert visit.dialogs == []
    assert page.evaluate("document.scripts.length") == 1 + len(ASSETS) + 1
    assert page.evaluate("document.querySelectorAll('img, b[onmouseover]').length") == 0
    assert visit.errors() == []


def test_a_large_model_opens_in_focus_and_search_reveals_any_component(browser, tmp_path: Path) -> None:
    lines = ["components:", "  region: {kind: region, unavailability: 0.001}"]
    lines += [f"  p{i}: {{requires: [region]}}" for i in range(20)]
    for i in range(300):
        deps = [f"p{i % 20}"] + ([f"s{i // 2}"] if i >= 2 else [])
        tier = ", tags: {tier: 1}, impact: {revenue_per_hour: 100}" if i % 60 == 59 else ""
        lines.append(f"  s{i}: {{requires: [{', '.join(deps)}]{tier}}}")
    graph = compile_model(load_model_text("\n".join(lines) + "\n"))
    path = write_html_report([], tmp_path / "large.html", graph=graph)
    visit = Visit(browser, path)
    page = visit.page
    assert page.evaluate("window.aftershockGraph.nodes().length") == graph.n
    shown = page.evaluate("window.aftershockGraph.nodes(':visible').length")
    assert 0 < shown <= 80
    assert f"of {graph.n} components" in page.locator("#focus-note").inner_text()
    # s100 is no SPOF of a target: hidden at first, revealed with its blast radius when searched.
    hidden = "(i) => window.aftershockGraph.$id('n' + i).visible()"
    assert page.evaluate(hidden, graph.index["s100"]) is False
    page.fill("#search", "s100")
    page.press("#search", "Enter")
    page.wait_for_timeout(400)
    assert page.locator("#panel h3").inner_text() == "s100"
    down = blast_radius(graph, ["s100"]).down
    assert down == ["s100", "s200", "s201"]
    visible_down = page.evaluate(
        "(ids) => ids.filter(i => window.aftershockGraph.$id('n' + i).visible()).length",
        [graph.index[n] for n in down],
    )
    assert visible_down == len(down)
    visit.shot("large-focus")
    assert visit.errors() == []


def test_a_real_replay_colours_the_incident_model(browser, tmp_path: Path) -> None:
    incident_model = DEMO.parents[1] / "catalog" / "incidents" / "aws-us-east-1-2025-10.model.yaml"
    if not incident_model.exists():
        pytest.skip("the incident model is not in this checkout")
    graph = load_graph(incident_model)
    replay = json.loads((FIXTURES / "replay-aws-us-east-1-2025-10.json").read_text())
    path = write_html_report([replay], tmp_path / "replay.html", graph=graph)
    visit = Visit(browser, path)
    page = visit.page
    text = page.locator("#clock").inner_text()
    down = int(re.search(r"(\d+) down", text).group(1))
    assert down > 0 and page.evaluate("window.aftershockGraph.nodes('.st-down').length") == down
    # Recorded windows are drawn beside the simulated ones.
    legend = page.evaluate(
        "Array.from(document.querySelectorAll('#gantt .legendtext')).map(e => e.textContent)"
    )
    assert "recorded down" in legend and "simulated down" in legend
    visit.shot("replay-aws")
    assert visit.errors() == []


@pytest.mark.parametrize("failed", [["cart-db"], ["catalog-use1", "catalog-usw2"]])
def test_a_blast_report_opens_on_the_failure_it_was_asked_about(browser, tmp_path: Path, failed: list[str]) -> None:
    graph = load_graph(DEMO)
    expected = blast_radius(graph, failed)
    path = write_html_report(expected.to_dict(), tmp_path / "blast.html", graph=graph)
    visit = Visit(browser, path)
    panel = visit.page.locator("#panel")
    assert panel.locator("h3").inner_text() == ", ".join(failed)
    count = panel.locator("[data-field=blast-count]")
    assert int(count.get_attribute("data-down")) == len(expected.down)
    assert int(count.get_attribute("data-degraded")) == len(expected.degraded)
    assert money(expected.revenue_per_hour_at_risk) in panel.locator("[data-field=blast-revenue]").inner_text()
    assert visit.page.evaluate("window.aftershockGraph.nodes('.st-down').length") == len(expected.down)
    assert visit.page.evaluate("window.aftershockGraph.nodes('.picked').length") == len(failed)
    assert visit.errors() == []
