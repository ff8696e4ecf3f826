"""Self-contained HTML report: one file, every script inlined, readable offline.

A report is built from a *bundle*: the model's graph (nodes, edges, and for every node its blast
radius, its single points of failure and its cost per hour) plus any number of results, each the
JSON a command prints with `--format json`. A section appears when its data is present, so a new
result type plugs in by adding a kind to `detect_kind` and a block to the template; an unknown
result is still shown, as a table of its fields.

User strings reach the page two ways, both escaped: through Jinja2 with autoescape (tables, text)
and as JSON inside `<script type="application/json">`, encoded by `safe_json` so that no `<`, `>`,
`&` or line separator can end the script element. The page's scripts only ever put user strings
into the DOM with `textContent`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from aftershock.errors import AftershockError
from aftershock.model.compile import CompiledGraph

BUNDLE_VERSION = 1
ASSETS = ("cytoscape.min.js", "cytoscape-dagre.min.js", "plotly-basic.min.js")
# Above this many components the per-node blast radii are left out of the page (they grow as n^2).
MAX_GRAPH_BLAST_NODES = 3000
_BLOCK = 4096  # single-failure scenarios per propagation pass

KINDS_IN_ORDER = (
    "check",
    "simulation",
    "replay",
    "risk",
    "whatif",
    "faulttree",
    "analysis",
    "spof",
    "blast",
    "demo",
)


# --- JSON that is safe inside <script> --------------------------------------------------------

_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def safe_json(obj: Any) -> str:
    """JSON text that can sit inside a `<script>` element: `<`, `>`, `&`, U+2028/9 escaped."""
    text = json.dumps(_plain(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _UNSAFE.items():
        text = text.replace(char, escaped)
    return text


def _plain(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays to Python, NaN and infinities to null."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if hasattr(obj, "to_dict"):
        return _plain(obj.to_dict())
    return obj


# --- the graph, with what a click on a node shows ----------------------------------------------


def graph_view(graph: CompiledGraph) -> dict[str, Any]:
    """Nodes and edges of the model, and for every node: blast radius, SPOFs and cost per hour.

    Node and edge endpoints are indices into `nodes`. Per-node blast radii come from one
    bit-parallel propagation of every single failure (the same kernel as `blast_radius`), so
    the page agrees with `aftershock blast` and `aftershock spof`.
    """
    from aftershock.analysis.propagation import (
        propagate_degraded,
        propagate_down,
        scenario_bits,
        single_failures,
    )
    from aftershock.analysis.structure import hard_cycles

    n = graph.n
    targets = set(graph.default_targets)
    nodes: list[dict[str, Any]] = []
    for i, (name, comp, kind) in enumerate(zip(graph.names, graph.components, graph.kinds, strict=True)):
        impact = comp.impact
        nodes.append(
            {
                "id": i,
                "name": name,
                "kind": kind,
                "description": comp.description,
                "revenue_per_hour": impact.revenue_per_hour if impact else 0.0,
                "cost_per_hour": impact.cost_per_hour if impact else 0.0,
                "degraded_loss": impact.degraded_loss if impact else 0.0,
                "tags": dict(comp.tags),
                "provider": comp.placement.provider if comp.placement else None,
                "region": comp.placement.region if comp.placement else None,
                "can_fail": bool(graph.can_fail[i]),
                "unavailability": graph.unavailability[i],
                "target": name in targets,
            }
        )
    edges: list[list[Any]] = []
    for kind, adj in (("requires", graph.requires), ("uses", graph.uses), ("member", graph.members)):
        for i in range(n):
            edges += [[i, int(j), kind] for j in adj.row(i)]
    # Reaching a dependency through a DNS name: drawn, though not a requires edge by itself.
    edges += [[i, graph.index[c.resolves], "resolves"] for i, c in enumerate(graph.components)
              if c.resolves is not None]
    view: dict[str, Any] = {
        "model": graph.model.name,
        "description": graph.model.description,
        "nodes": nodes,
        "edges": edges,
        "blast_included": n <= MAX_GRAPH_BLAST_NODES,
        "cycles": hard_cycles(graph),
    }
    if n > MAX_GRAPH_BLAST_NODES:
        return view
    revenue = graph.revenue_per_hour
    degraded_revenue = graph.revenue_per_hour * graph.degraded_loss
    spofs: list[list[int]] = [[] for _ in range(n)]
    for node in nodes:
        node["blast"] = {"down": [], "degraded": [], "revenue_per_hour_at_risk": 0.0}
    candidates = np.flatnonzero(graph.can_fail)
    for start in range(0, len(candidates), _BLOCK):
        block = candidates[start : start + _BLOCK]
        down = propagate_down(graph, single_failures(block, n))
        degraded = propagate_degraded(graph, down)
        down_bits = scenario_bits(down, len(block))  # (n, len(block))
        degraded_bits = scenario_bits(degraded, len(block))
        for j, c in enumerate(block):
            d = np.flatnonzero(down_bits[:, j])
            g = np.flatnonzero(degraded_bits[:, j])
            nodes[c]["blast"] = {
                "down": d.tolist(),
                "degraded": g.tolist(),
                "revenue_per_hour_at_risk": float(revenue[d].sum() + degraded_revenue[g].sum()),
            }
        for t, j in zip(*np.nonzero(down_bits), strict=True):
            if block[j] != t:
                spofs[t].append(int(block[j]))
    for node, s in zip(nodes, spofs, strict=True):
        node["spofs"] = sorted(s, key=lambda k: graph.names[k])
    return view


# --- results ------------------------------------------------------------------------------------


def detect_kind(result: Mapping[str, Any]) -> str:
    """Which kind of result a command's JSON is (its `kind` key wins when present)."""
    kind = result.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    keys = set(result)
    if {"outcomes", "policy"} <= keys:
        return "check"
    if "windows" in keys:
        return "replay" if "recorded" in keys else "simulation"
    if "top_event" in keys and "probability" in keys:
        return "faulttree"
    if "mitigations" in keys or "ranked" in keys:
        return "whatif"
    if "contributors" in keys or _looks_like_risk(result.get("targets")):
        return "risk"
    if {"counts", "spofs"} <= keys:
        return "analysis"
    if {"failed", "down", "degraded"} <= keys:
        return "blast"
    if ("spofs" in keys and "target" in keys) or isinstance(result.get("targets"), Mapping):
        return "spof"
    if {"hidden_spofs", "target"} <= keys:
        return "demo"
    return "unknown"


def _looks_like_risk(targets: Any) -> bool:
    return isinstance(targets, Mapping) and any(
        isinstance(v, Mapping) and ("downtime_hours" in v or "loss" in v) for v in targets.values()
    )


def build_bundle(
    results: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    graph: CompiledGraph | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The data a report shows: the graph (when given or carried by a bundle) and the results.

    `results` may hold bundles (their graph and results are merged in) and plain results.
    """
    single = isinstance(results, Mapping) or hasattr(results, "to_dict")
    items = [results] if single else list(results)
    view = graph_view(graph) if graph is not None else None
    flat: list[dict[str, Any]] = []
    for item in items:
        if hasattr(item, "to_dict") and not isinstance(item, Mapping):
            item = item.to_dict()
        if not isinstance(item, Mapping):
            raise AftershockError(
                f"a result is a JSON object, not a {type(item).__name__}",
                hint="pass the output of a command run with --format json",
            )
        if "aftershock_report" in item:
            view = view or item.get("graph")
            flat += [dict(r.get("data", r)) if isinstance(r.get("data"), Mapping) else dict(r)
                     for r in item.get("results", []) if isinstance(r, Mapping)]
            title = title or item.get("title")
        elif _is_list_of(item.get("targets"), Mapping) and item["targets"] and all(
                "top_event" in row for row in item["targets"]):
            flat += [dict(row) for row in item["targets"]]  # `aftershock availability`: one per target
        else:
            flat.append(dict(item))
    results_out = []
    for r in flat:
        kind = detect_kind(r)
        data = _plain(r)
        if kind == "replay" and isinstance(data.get("windows"), list):
            data = replay_windows(data)
        if kind in ("simulation", "replay"):
            data = _clean_timeline(data)
        if not conforms(kind, data):
            kind = "unknown"  # shown as a table of its fields rather than misread
        results_out.append({"kind": kind, "data": data})
    results_out.sort(key=lambda r: _kind_rank(r["kind"]))
    model = view["model"] if view else next((r["data"].get("model") for r in results_out
                                             if isinstance(r["data"].get("model"), str)), None)
    return {
        "aftershock_report": BUNDLE_VERSION,
        "title": title or (f"aftershock report: {model}" if model else "aftershock report"),
        "model": model,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "graph": _plain(view) if view else None,
        "results": results_out,
    }


def replay_windows(replay: Mapping[str, Any]) -> dict[str, Any]:
    """`aftershock replay` JSON (a list of recorded/simulated matches per service) in the report's
    form: `windows` (simulated) and `recorded`, each {service: [{state, start, end, ...}]}; the
    matches are kept as `matches`, and the simulation's summary and loss are lifted up."""
    out = dict(replay)
    simulated: dict[str, list[dict[str, Any]]] = {}
    recorded: dict[str, list[dict[str, Any]]] = {}
    end_of_run = None
    sim_part = replay.get("simulation") if isinstance(replay.get("simulation"), Mapping) else {}
    summary = sim_part.get("summary") if isinstance(sim_part.get("summary"), Mapping) else {}
    if isinstance(summary.get("duration_s"), int | float):
        end_of_run = summary["duration_s"]
    for m in replay.get("windows") or []:
        if not isinstance(m, Mapping):
            continue
        service = str(m.get("service"))
        sim, rec = m.get("simulated"), m.get("recorded")
        sim_clock, rec_clock = _pair(m.get("simulated_clock")), _pair(m.get("recorded_clock"))
        if isinstance(sim, Mapping) and isinstance(sim.get("start_s"), int | float):
            end = sim.get("end_s")
            simulated.setdefault(service, []).append({
                "state": "down", "start": sim["start_s"], "end": end if end is not None else end_of_run,
                "start_time": sim_clock[0], "end_time": sim_clock[1], "open": end is None})
        if isinstance(rec, Mapping) and isinstance(rec.get("start_s"), int | float):
            recorded.setdefault(service, []).append({
                "state": "down", "start": rec["start_s"], "end": rec.get("end_s"),
                "start_time": rec_clock[0], "end_time": rec_clock[1], "source": rec.get("source")})
    out["matches"] = [m for m in replay.get("windows") or [] if isinstance(m, Mapping)]
    out["windows"] = simulated
    out["recorded"] = recorded
    out["reproduced_windows"], out["recorded_windows"] = replay.get("reproduced"), replay.get("recorded")
    if sim_part:
        out.setdefault("summary", sim_part.get("summary"))
        out.setdefault("loss", sim_part.get("loss"))
    return out


def _pair(value: Any) -> list[Any]:
    return list(value[:2]) if isinstance(value, list) and len(value) >= 2 else [None, None]


def _is_list_of(value: Any, kind: type | tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) for v in value)


def _optional(data: Mapping[str, Any], key: str, test: Any) -> bool:
    return key not in data or data[key] is None or test(data[key])


def conforms(kind: str, data: Mapping[str, Any]) -> bool:
    """Whether a result has the shape its dedicated view reads (else it is shown field by field)."""
    mapping, text = Mapping, (str, int, float)
    if kind == "check":
        return (
            isinstance(data.get("counts"), mapping)
            and _is_list_of(data.get("outcomes"), mapping)
            and all(_is_list_of(o.get("violations", []), mapping) for o in data["outcomes"])
        )
    if kind in ("simulation", "replay"):
        return (_optional(data, "summary", lambda v: isinstance(v, mapping))
                and _optional(data, "loss", lambda v: isinstance(v, mapping))
                and _optional(data, "matches", lambda v: _is_list_of(v, mapping)))
    if kind == "risk":
        return (_optional(data, "targets", lambda v: isinstance(v, mapping))
                and _optional(data, "contributors", lambda v: _is_list_of(v, mapping))
                and _optional(data, "notes", lambda v: isinstance(v, list)))
    if kind == "whatif":
        key = "mitigations" if "mitigations" in data else "ranked"
        return _is_list_of(data.get(key), mapping) and _optional(
            data, "baseline", lambda v: isinstance(v, mapping))
    if kind == "faulttree":
        return (_optional(data, "cut_sets", lambda v: isinstance(v, list))
                and _optional(data, "approximations", lambda v: isinstance(v, mapping)))
    if kind == "analysis":
        return (isinstance(data.get("spofs"), mapping)
                and _optional(data, "cycles", lambda v: all(_is_list_of(c, text) for c in v)
                              if isinstance(v, list) else False)
                and _optional(data, "top_blast_radius", lambda v: _is_list_of(v, mapping)))
    if kind == "blast":
        return all(_is_list_of(data.get(k), text) for k in ("failed", "down", "degraded"))
    if kind == "spof":
        return isinstance(data.get("targets"), mapping) or _is_list_of(data.get("spofs"), text)
    return True


def _clean_timeline(data: dict[str, Any]) -> dict[str, Any]:
    """Keep only well-formed windows and series, so the page's script can trust their shape."""
    out = dict(data)
    for key in ("windows", "recorded"):
        raw = data.get(key)
        if key == "recorded" and not isinstance(raw, Mapping):
            out.pop(key, None)  # a count, as some results use the key, is not windows
            continue
        clean: dict[str, list[dict[str, Any]]] = {}
        for name, ws in (raw.items() if isinstance(raw, Mapping) else []):
            rows = [dict(w) for w in ws if isinstance(w, Mapping) and _is_time(w.get("start"))] \
                if isinstance(ws, list) else []
            for w in rows:
                if not _is_time(w.get("end")):
                    w["end"] = w["start"]
            if rows:
                clean[str(name)] = rows
        out[key] = clean
    series = data.get("series")
    if series is not None:
        clean_series: dict[str, Any] = {}
        for key, value in (series.items() if isinstance(series, Mapping) else []):
            if isinstance(value, list) and all(_is_number(v) for v in value):
                clean_series[str(key)] = value
            elif isinstance(value, Mapping):
                lines = {str(n): v for n, v in value.items()
                         if isinstance(v, list) and all(_is_number(x) for x in v)}
                if lines:
                    clean_series[str(key)] = lines
        out["series"] = clean_series
    return out


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _is_time(value: Any) -> bool:
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _kind_rank(kind: str) -> int:
    return KINDS_IN_ORDER.index(kind) if kind in KINDS_IN_ORDER else len(KINDS_IN_ORDER)


# --- the story in a few sentences ----------------------------------------------------------------


def money(value: float | None) -> str:
    """$1,234,567 (or '-')."""
    if value is None:
        return "-"
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def headline(bundle: Mapping[str, Any]) -> list[str]:
    """Sentences that tell the story before any chart is read."""
    sims, risks, checks = [], [], []
    graph = bundle.get("graph")
    for r in bundle["results"]:
        kind, data = r["kind"], r["data"]
        if kind in ("simulation", "replay"):
            sims += _simulation_headline(data, graph)
            if isinstance(data.get("reproduced_windows"), int) and data.get("recorded_windows"):
                sims.append(
                    f"The replay reproduces {data['reproduced_windows']} of the "
                    f"{data['recorded_windows']} recorded windows within "
                    f"{_number(data.get('tolerance_min'))} min at both ends."
                )
        elif kind == "check":
            c = data.get("counts", {})
            verdict = "passes" if data.get("passed") else "FAILS"
            known = ""
            if data.get("baseline"):
                known = f", {c.get('known', 0)} only with violations already in the baseline"
            checks.append(
                f"Policy check {verdict}: {c.get('fail', 0)} failing, {c.get('pass', 0)} passing{known}."
            )
        elif kind == "risk":
            risks += _risk_headline(data)
    structure = _graph_headline(graph) if graph and graph.get("blast_included") else []
    # What happened first, then why (structure), then what it costs over years, then the verdict.
    return sims + structure + risks + checks


def _windows_span(windows: Mapping[str, Any]) -> tuple[Any, Any, list[str]]:
    """Earliest start, latest end, and the components down at the earliest start."""
    starts = [(w.get("start"), w.get("state"), name) for name, ws in windows.items() for w in ws or []
              if isinstance(w.get("start"), int | float)]
    ends = [w.get("end") for ws in windows.values() for w in ws or []
            if isinstance(w.get("end"), int | float)]
    if not starts:
        return None, None, []
    first = min(s for s, _, _ in starts)
    at_first = [(state, name) for s, state, name in starts if s == first]
    starters = [name for state, name in at_first if state == "down"] or [n for _, n in at_first]
    return first, max(ends) if ends else None, starters


def duration_text(seconds: float) -> str:
    """2 h 05 min, 12 min, 40 s."""
    seconds = float(seconds)
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.0f} s"


def _simulation_headline(data: Mapping[str, Any], graph: Mapping[str, Any] | None) -> list[str]:
    windows = data.get("windows") or {}
    first, last, starters = _windows_span(windows)
    if first is None:
        return []
    down = [n for n, ws in windows.items() if any(w.get("state") == "down" for w in ws or [])]
    degraded = [n for n in windows if n not in down]
    roots = _root_causes(sorted(set(starters)), graph)
    text = (
        f"{', '.join(roots[:3])} failed first"
        f"{' (at ' + duration_text(first) + ')' if first else ''}; the cascade took {len(down)} "
        f"component(s) down and degraded {len(degraded)} more"
    )
    if last is not None:
        text += f", over {duration_text(last - first)} until the last recovered"
    total = simulation_loss(data)
    if total:  # a model without revenue has no loss worth a headline
        text += f"; loss {money(total)}"
    return [text + "."]


def simulation_loss(data: Mapping[str, Any]) -> float | None:
    """Total loss of a simulation: `loss.total`, `summary.total_loss`, or the sum of `loss`."""
    loss = data.get("loss")
    summary = data.get("summary")
    if isinstance(loss, Mapping) and isinstance(loss.get("total"), int | float):
        return float(loss["total"])
    if isinstance(summary, Mapping) and isinstance(summary.get("total_loss"), int | float):
        return float(summary["total_loss"])
    if isinstance(loss, Mapping) and loss and all(isinstance(v, int | float) for v in loss.values()):
        return float(sum(loss.values()))
    return None


def _root_causes(starters: list[str], graph: Mapping[str, Any] | None) -> list[str]:
    """Of the components that failed at the first instant, those whose hard dependencies did not:
    where the cascade began (a static cascade makes a whole chain fail in the same step)."""
    if not graph or len(starters) < 2:
        return starters
    index = {n["name"]: n["id"] for n in graph["nodes"]}
    failed = {index[s] for s in starters if s in index}
    needs: dict[int, set[int]] = {}
    for src, dst, kind in graph["edges"]:
        if kind in ("requires", "member", "resolves"):
            needs.setdefault(src, set()).add(dst)
    roots = [s for s in starters if s in index and not (needs.get(index[s], set()) & failed)]
    return roots or starters


def _risk_headline(data: Mapping[str, Any]) -> list[str]:
    targets = {t: v for t, v in (data.get("targets") or {}).items() if isinstance(v, Mapping)}

    def mean_loss(v: Mapping[str, Any]) -> float | None:
        loss = v.get("loss")
        return loss.get("mean") if isinstance(loss, Mapping) and isinstance(loss.get("mean"), int | float) else None

    costly = sorted(((mean_loss(v), t) for t, v in targets.items() if mean_loss(v)), reverse=True)
    total = data.get("total_loss")
    if isinstance(total, Mapping) and isinstance(total.get("mean"), int | float):
        text = f"Expected loss from outages: {money(total['mean'])} a year"
        if isinstance(total.get("p99"), int | float):
            text += f" (1 year in 100 above {money(total['p99'])})"
        if costly:
            text += f"; {costly[0][1]} carries {money(costly[0][0])} of it"
        return [text + "."]
    out = [f"{t}: expected loss {money(m)} a year." for m, t in costly[:2]]
    if not out:
        out = [f"{t}: {v['downtime_hours']['mean']:.2f} h of downtime a year on average."
               for t, v in list(targets.items())[:2]
               if isinstance(v.get("downtime_hours"), Mapping) and "mean" in v["downtime_hours"]]
    return out


def _graph_headline(graph: Mapping[str, Any]) -> list[str]:
    nodes = graph["nodes"]
    lines = []
    targets = [n for n in nodes if n["target"]]
    worst = max((n for n in nodes if n.get("blast")), default=None,
                key=lambda n: n["blast"]["revenue_per_hour_at_risk"])
    if targets:
        most = max(targets, key=lambda n: (n["revenue_per_hour"], len(n.get("spofs", []))))
        spofs = [nodes[i]["name"] for i in most.get("spofs", [])]
        if spofs:
            lines.append(
                f"{most['name']} ({money(most['revenue_per_hour'])}/h) has {len(spofs)} single "
                f"point(s) of failure."
            )
    if worst is not None and worst["blast"]["revenue_per_hour_at_risk"] > 0:
        b = worst["blast"]
        lines.append(
            f"The costliest single failure is {worst['name']}: {len(b['down'])} component(s) down, "
            f"{money(b['revenue_per_hour_at_risk'])}/h at risk."
        )
    return lines


# --- rendering ---------------------------------------------------------------------------------


@cache
def _asset(name: str) -> str:
    text = (resources.files("aftershock.report") / "assets" / name).read_text(encoding="utf-8")
    if "</script" in text.lower():
        raise RuntimeError(f"vendored asset {name} contains </script and cannot be inlined")
    return text


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aftershock.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda v: money(v) if _is_number(v) else cell(v)
    env.filters["num"] = _number
    env.filters["duration"] = duration_text
    env.globals["columns"] = columns
    env.globals["cell"] = cell
    return env


def _number(value: Any) -> str:
    import jinja2

    if value is None or isinstance(value, jinja2.Undefined):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1):
        return f"{value:,.0f}"
    if abs(value) < 0.001:
        return f"{value:.3g}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def columns(rows: list[Any]) -> list[str]:
    """Union of the keys of a list of records, in first-seen order (for generic tables)."""
    seen: dict[str, None] = {}
    for row in rows:
        if isinstance(row, Mapping):
            seen.update(dict.fromkeys(str(k) for k in row))
    return list(seen)


def cell(value: Any) -> str:
    """A table cell's text for any JSON value."""
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {cell(v)}" for k, v in value.items())
    return _number(value)


def render_html(bundle: Mapping[str, Any]) -> str:
    """The report page for a bundle (see `build_bundle`)."""
    template = _environment().get_template("report.html.j2")
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for r in bundle["results"]:
        by_kind[r["kind"]].append(r["data"])
    analysis = (by_kind.get("analysis") or [None])[0]
    graph = bundle.get("graph")
    return template.render(
        bundle=bundle,
        by_kind=by_kind,
        headline=headline(bundle),
        timeline=any(r.get("windows") for k in ("simulation", "replay") for r in by_kind.get(k, [])),
        spof_rows=_spof_rows(by_kind, graph),
        cycles=analysis.get("cycles") if analysis else (graph or {}).get("cycles"),
        top_blast=analysis.get("top_blast_radius") if analysis else _top_blast(graph),
        known_kinds=KINDS_IN_ORDER,
        css=_template_text("report.css"),
        data_json=safe_json(bundle),
        scripts=[_asset(name) for name in ASSETS] + [_template_text("report.js")],
    )


def _template_text(name: str) -> str:
    text = (resources.files("aftershock.report") / "templates" / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise RuntimeError(f"{name} contains a closing tag and cannot be inlined")
    return text


def _spof_rows(by_kind: Mapping[str, list[Any]], graph: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """SPOFs per target: from an analysis or spof result, else from the graph."""
    revenue = {n["name"]: n["revenue_per_hour"] for n in (graph or {}).get("nodes", [])}
    table: dict[str, list[str]] = {}

    def take(mapping: Any) -> None:
        for target, spofs in (mapping.items() if isinstance(mapping, Mapping) else []):
            if isinstance(spofs, list):
                table[str(target)] = [str(x) for x in spofs if isinstance(x, str | int | float)]

    for a in by_kind.get("analysis", []):
        take(a.get("spofs"))
    for s in by_kind.get("spof", []):
        if isinstance(s.get("targets"), Mapping):
            take(s["targets"])
        elif "target" in s:
            take({s["target"]: s.get("spofs") or []})
    if not table and graph and graph.get("blast_included"):
        nodes = graph["nodes"]
        table = {n["name"]: [nodes[i]["name"] for i in n["spofs"]] for n in nodes if n["target"]}
    rows = [{"target": t, "revenue_per_hour": revenue.get(t), "spofs": list(s)} for t, s in table.items()]
    return rows


def _top_blast(graph: Mapping[str, Any] | None, top: int = 10) -> list[dict[str, Any]]:
    if not graph or not graph.get("blast_included"):
        return []
    nodes = graph["nodes"]
    ranked = sorted(
        (n for n in nodes if n.get("can_fail")),
        key=lambda n: (-n["blast"]["revenue_per_hour_at_risk"], -len(n["blast"]["down"]), n["name"]),
    )
    return [
        {
            "component": n["name"],
            "revenue_per_hour_at_risk": n["blast"]["revenue_per_hour_at_risk"],
            "down": len(n["blast"]["down"]),
            "degraded": len(n["blast"]["degraded"]),
            "targets_down": [nodes[i]["name"] for i in n["blast"]["down"] if nodes[i]["target"]],
        }
        for n in ranked[:top]
    ]


def write_html_report(
    results: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    path: str | Path,
    graph: CompiledGraph | None = None,
    title: str | None = None,
) -> Path:
    """Write a self-contained HTML report of one result (a dict) or several, with the model's graph.

    This is what `--html FILE` on a command calls: `write_html_report(result.to_dict(), path,
    graph=graph)`.
    """
    bundle = build_bundle(results, graph=graph, title=title)
    path = Path(path)
    try:
        path.write_text(render_html(bundle), encoding="utf-8")
    except OSError as exc:
        raise AftershockError(f"cannot write the report: {exc.strerror}", file=str(path)) from None
    return path
