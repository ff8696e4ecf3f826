"""Markdown summaries for a pull-request comment: a policy check, or a whole report bundle.

GitHub renders some HTML inside Markdown, so every user string is escaped by `md` (HTML specials
as entities, Markdown specials with a backslash, table pipes, line breaks flattened).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aftershock.report.html import duration_text, headline, money, simulation_loss

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
STATUS = {"pass": "✅ pass", "fail": "❌ **FAIL**", "known": "⚠️ known"}
MAX_ROWS = 50


def md(value: Any) -> str:
    """A user string made inert in Markdown (and in the HTML GitHub lets through)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.split())


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n… and {len(rows) - MAX_ROWS} more rows")
    return out


def check_markdown(check: Mapping[str, Any]) -> str:
    """The verdict of `aftershock check` (its JSON form) as a PR comment."""
    c = check.get("counts") or {}
    verdict = "✅ passed" if check.get("passed") else "❌ failed"
    lines = [
        f"## aftershock check {verdict}: {md(check.get('model'))}",
        "",
        f"{md(c.get('fail', 0))} failing, {md(c.get('pass', 0))} passing"
        + (f", {md(c.get('known', 0))} with violations already in the baseline"
           if check.get("baseline") else "")
        + f" (policy {md(check.get('policy_name') or '')} `{md(check.get('policy'))}`).".replace("  ", " "),
        "",
    ]
    rows = []
    outcomes = check.get("outcomes") or []
    for o in outcomes:
        violations = o.get("violations") or []
        new = [md(v.get("subject") or v.get("message")) for v in violations if v.get("new")]
        known = [md(v.get("subject") or v.get("message")) for v in violations if not v.get("new")]
        what = md(o.get("detail", ""))
        if new and not check.get("baseline") and all(n in what for n in new):
            new = []  # the detail already names them
        if new:
            what += "<br>" + ("new: " if check.get("baseline") else "") + ", ".join(new)
        if known:
            what += "<br>already there: " + ", ".join(known)
        status = STATUS.get(o.get("status"), md(o.get("status")))
        rows.append([md(o.get("name")), md(o.get("target")), status, what])
    lines += _table(["rule", "target", "status", "detail"], rows)
    failing = [o for o in outcomes if o.get("status") == "fail"]
    if failing:
        lines += ["", "<details><summary>Why each new violation fails</summary>", ""]
        for o in failing:
            lines += [f"- {md(v.get('message'))}" for v in o.get("violations") or [] if v.get("new")]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def report_markdown(bundle: Mapping[str, Any]) -> str:
    """A summary of a report bundle: the story, then a short section per result kind."""
    lines = [f"# {md(bundle['title'])}", ""]
    lines += [f"- {md(s)}" for s in headline(bundle)]
    for r in bundle["results"]:
        kind, data = r["kind"], r["data"]
        lines.append("")
        if kind == "check":
            lines.append(check_markdown(data))
        elif kind == "analysis":
            lines += ["## Single points of failure", ""]
            lines += _table(
                ["target", "count", "components whose failure alone takes it down"],
                [[md(t), str(len(s)), ", ".join(md(x) for x in s) or "none"]
                 for t, s in (data.get("spofs") or {}).items() if isinstance(s, list)],
            )
            cycles = [c for c in data.get("cycles") or [] if isinstance(c, list)]
            lines += ["", f"Hard dependency cycles: {len(cycles) or 'none'}"]
            lines += [f"- {' ↔ '.join(md(m) for m in c)}" for c in cycles]
        elif kind in ("simulation", "replay"):
            lines += [f"## {kind.capitalize()}", ""]
            rows = []
            for name, ws in (data.get("windows") or {}).items():
                for w in ws or []:
                    rows.append([md(name), md(w.get("state")), _clock(w.get("start")),
                                 _clock(w.get("end"))])
            lines += _table(["component", "state", "start", "end"], rows)
            total = simulation_loss(data)
            if total is not None:
                lines += ["", f"Loss: {money(total)}"]
        elif kind == "risk":
            lines += ["## Risk", ""]
            rows = []
            for name, t in (data.get("targets") or {}).items():
                t = t if isinstance(t, Mapping) else {}
                loss = t.get("loss") if isinstance(t.get("loss"), Mapping) else {}
                dt = t.get("downtime_hours") if isinstance(t.get("downtime_hours"), Mapping) else {}
                rows.append([md(name), _num(dt.get("mean")), _num(dt.get("p99")),
                             _money(loss.get("mean")), _money(loss.get("p99"))])
            lines += _table(["target", "downtime h (mean)", "downtime h (p99)", "loss (mean)",
                             "loss (p99)"], rows)
        elif kind == "whatif":
            lines += ["## What-if: mitigations ranked", ""]
            ms = [m for m in data.get("mitigations") or data.get("ranked") or [] if isinstance(m, Mapping)]
            lines += _table(
                ["rank", "mitigation", "loss removed / year", "cost / year", "net benefit"],
                [[md(m.get("rank", "-")), md(m.get("name", "")), _money(m.get("loss_removed")),
                  _money(m.get("cost_per_year")), _money(m.get("net_benefit"))]
                 for m in ms if m.get("evaluated", True)],
            )
        elif kind == "faulttree":
            lines += [f"## Fault tree: {md(data.get('top_event'))}", "",
                      f"P(top event) = {md(data.get('probability'))}"]
        else:
            lines += [f"## {md(kind)}", "", "See the HTML report for this result."]
    graph = bundle.get("graph")
    if graph and not any(r["kind"] == "analysis" for r in bundle["results"]):
        nodes = graph["nodes"]
        spofs = [[md(n["name"]), str(len(n["spofs"])), ", ".join(md(nodes[i]["name"]) for i in n["spofs"])
                  or "none"] for n in nodes if n["target"] and "spofs" in n]
        if spofs:
            lines += ["", "## Single points of failure", ""]
            lines += _table(["target", "count", "components whose failure alone takes it down"], spofs)
    return "\n".join(lines) + "\n"


def _clock(v: Any) -> str:
    """Seconds since the start as T+2 h 05 min; anything else (a timestamp) as text."""
    if isinstance(v, int | float):
        return "T+" + duration_text(v)
    return md(v)


def _num(v: Any) -> str:
    return f"{v:,.2f}" if isinstance(v, int | float) else "-"


def _money(v: Any) -> str:
    return money(v) if isinstance(v, int | float) else "-"
