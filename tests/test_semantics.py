"""Static semantics: hard and soft dependencies, groups, k-of-n, failover, cycles, SPOFs."""

from __future__ import annotations

import pytest

from aftershock.analysis.structure import (
    all_single_points_of_failure,
    blast_radius,
    criticality,
    dependency_path,
    hard_cycles,
    single_points_of_failure,
)
from aftershock.errors import AftershockError
from aftershock.model.compile import compile_model
from aftershock.model.load import load_model_text


def graph(components: str):
    return compile_model(load_model_text("version: 1\ncomponents:\n" + components))


def test_hard_dependency_takes_dependents_down() -> None:
    g = graph("  db: {}\n  api: {requires: [db]}\n  web: {requires: [api]}\n  other: {}\n")
    b = blast_radius(g, ["db"])
    assert b.down == ["api", "db", "web"] and b.degraded == [] and b.failed == ["db"]


def test_soft_dependency_only_degrades_and_degradation_travels_up_hard_edges() -> None:
    g = graph(
        "  recs: {}\n  web: {uses: [recs]}\n  edge: {requires: [web]}\n  fan: {uses: [web]}\n"
    )
    b = blast_radius(g, ["recs"])
    assert b.down == ["recs"]
    # edge requires a degraded component: degraded; fan only *uses* web, which is not down: fine.
    assert b.degraded == ["edge", "web"]


def test_any_of_group_survives_one_member() -> None:
    g = graph("  a: {}\n  b: {}\n  g: {any_of: [a, b], failover: 2m}\n  app: {requires: [g]}\n")
    assert blast_radius(g, ["a"]).down == ["a"]
    assert blast_radius(g, ["a", "b"]).down == ["a", "app", "b", "g"]
    assert single_points_of_failure(g, "app") == []


def test_k_of_n_needs_k_members_up() -> None:
    g = graph("  a: {}\n  b: {}\n  c: {}\n  q: {k_of_n: {k: 2, of: [a, b, c]}}\n")
    assert "q" not in blast_radius(g, ["a"]).down
    assert "q" in blast_radius(g, ["a", "c"]).down
    all_needed = graph("  a: {}\n  b: {}\n  q: {k_of_n: {k: 2, of: [a, b]}}\n")
    assert single_points_of_failure(all_needed, "q") == ["a", "b"]


def test_group_with_a_kind_can_fail_by_itself() -> None:
    g = graph(
        "  a: {}\n  b: {}\n  lb: {kind: load_balancer, any_of: [a, b]}\n  app: {requires: [lb]}\n"
    )
    assert single_points_of_failure(g, "app") == ["lb"]


def test_unavailability_zero_cannot_fail() -> None:
    g = graph("  infra: {unavailability: 0}\n  app: {requires: [infra]}\n  x: {requires: [app]}\n")
    assert single_points_of_failure(g, "x") == ["app"]
    # ...but it still transmits a failure below it
    g2 = graph(
        "  db: {}\n  infra: {unavailability: 0, requires: [db]}\n  app: {requires: [infra]}\n"
    )
    assert single_points_of_failure(g2, "app") == ["db"]


def test_cycle_none_of_whose_members_failed_is_up() -> None:
    g = graph("  a: {requires: [b]}\n  b: {requires: [a]}\n  db: {}\n  c: {requires: [a, db]}\n")
    assert blast_radius(g, ["db"]).down == ["c", "db"]
    assert hard_cycles(g) == [["a", "b"]]


def test_failure_reaching_a_cycle_takes_all_of_it_down() -> None:
    g = graph("  db: {}\n  a: {requires: [b, db]}\n  b: {requires: [c]}\n  c: {requires: [a]}\n")
    assert blast_radius(g, ["db"]).down == ["a", "b", "c", "db"]
    assert single_points_of_failure(g, "c") == ["a", "b", "db"]


def test_cycle_through_any_of_is_not_a_hard_cycle() -> None:
    g = graph("  b: {}\n  a: {requires: [g]}\n  g: {any_of: [a, b]}\n")
    assert hard_cycles(g) == []
    # The least fixpoint: b failing leaves a up through itself? a needs g; g needs a or b up.
    # With b down nothing forces a down, so a (and g) stay up.
    assert blast_radius(g, ["b"]).down == ["b"]


def test_self_dependency_is_a_cycle_of_one() -> None:
    assert hard_cycles(graph("  a: {requires: [a]}\n")) == [["a"]]


def test_target_is_not_its_own_spof_and_default_targets() -> None:
    g = graph(
        "  db: {}\n  api: {requires: [db], impact: {revenue_per_hour: 10}}\n"
        "  web: {requires: [api], tags: {tier: 1}}\n  misc: {requires: [db]}\n"
    )
    result = all_single_points_of_failure(g)
    assert result == {"api": ["db"], "web": ["api", "db"]}


def test_revenue_at_risk_counts_degraded_share() -> None:
    g = graph(
        "  recs: {}\n  web: {uses: [recs], impact: {revenue_per_hour: 1000, degraded_loss: 0.25}}\n"
    )
    assert blast_radius(g, ["recs"]).revenue_per_hour_at_risk == 250.0
    assert blast_radius(g, ["web"]).revenue_per_hour_at_risk == 1000.0
    top = criticality(g)
    assert [c.component for c in top] == ["web", "recs"]


def test_dependency_path_explains_a_spof() -> None:
    g = graph(
        "  dns: {}\n  db: {requires: [dns]}\n  api: {requires: [db]}\n  web: {requires: [api]}\n"
    )
    assert dependency_path(g, "web", "dns") == ["web", "api", "db", "dns"]
    assert dependency_path(g, "dns", "web") == []


def test_unknown_component_is_a_hinted_error() -> None:
    g = graph("  db: {}\n")
    with pytest.raises(AftershockError) as info:
        blast_radius(g, ["dbb"])
    assert info.value.hint and "db" in info.value.hint


def test_many_candidates_span_several_words_and_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from aftershock.analysis import structure

    # 150 independent leaves under one AND service: every leaf is a SPOF (3 words of scenarios).
    leaves = "".join(f"  l{i}: {{}}\n" for i in range(150))
    reqs = ", ".join(f"l{i}" for i in range(150))
    g = graph(leaves + f"  top: {{requires: [{reqs}], impact: {{revenue_per_hour: 1}}}}\n")
    expected = sorted(f"l{i}" for i in range(150))
    assert single_points_of_failure(g, "top") == expected
    monkeypatch.setattr(structure, "BLOCK_BYTES", 8 * g.n)  # one word per block: 3 blocks
    assert single_points_of_failure(g, "top") == expected
