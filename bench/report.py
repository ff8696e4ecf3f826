"""Benchmark: the data behind the HTML report's graph (every component's blast radius and SPOFs)
and the page itself, against the straightforward way (one `blast_radius` call per component plus
`all_single_points_of_failure` over every component), on the same generated model.

Run: python bench/report.py [--n 3000]
Figures on a shared 2-core machine are indicative.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_model

from aftershock.analysis.structure import all_single_points_of_failure, blast_radius
from aftershock.gate.check import check_model
from aftershock.gate.policy import load_policy_text
from aftershock.model.compile import CompiledGraph, compile_model
from aftershock.model.load import load_model
from aftershock.report.html import build_bundle, graph_view, render_html


def straightforward_view(graph: CompiledGraph) -> dict[str, tuple[int, int, int]]:
    """Per component: one blast-radius pass each; SPOFs of every component as a target."""
    spofs = all_single_points_of_failure(graph, list(graph.names))
    out = {}
    for i, name in enumerate(graph.names):
        if graph.can_fail[i]:
            b = blast_radius(graph, [name])
            out[name] = (len(b.down), len(b.degraded), len(spofs[name]))
        else:
            out[name] = (0, 0, len(spofs[name]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3000, help="components in the generated model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        graph = compile_model(load_model(write_model(args.n, Path(tmp) / "model.json")))
    print(f"model: {graph.n} components, {len(graph.hard.indices)} hard edges")

    start = time.perf_counter()
    view = graph_view(graph)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    naive = straightforward_view(graph)
    baseline = time.perf_counter() - start
    # Same answers, or the comparison means nothing.
    for node in view["nodes"]:
        b = node.get("blast", {"down": [], "degraded": []})
        down = len(b["down"]) if node["can_fail"] else 0
        assert (down, len(b["degraded"]), len(node["spofs"])) == naive[node["name"]], node["name"]

    policy = load_policy_text(
        "rules:\n  - {rule: no_spof}\n  - {rule: no_hard_cycles}\n  - {rule: no_single_region}\n"
        "  - {rule: max_blast_revenue_per_hour, value: 100000}\n"
    )
    start = time.perf_counter()
    result = check_model(graph, policy, baseline=graph)
    gate = time.perf_counter() - start

    start = time.perf_counter()
    page = render_html(build_bundle([], graph=graph))
    render = time.perf_counter() - start - ours  # build_bundle recomputes the view
    print(f"graph view (bit-parallel): {ours:.3f} s")
    print(f"straightforward (one blast_radius per component): {baseline:.3f} s")
    print(f"ratio: {baseline / ours:.1f}x faster")
    print(f"page: {len(page) / 1e6:.2f} MB, rendered in about {max(render, 0):.2f} s after the view")
    print(f"check (4 rules, {len(result.outcomes)} outcomes, with the model as its own baseline): "
          f"{gate:.2f} s")


if __name__ == "__main__":
    main()
