"""A deliberately naive reference of the static semantics, for checking the fast engines.

It walks the validated components directly and iterates to the least fixpoint with Python sets,
exactly as docs/model.md states the rules.
"""

from __future__ import annotations

from aftershock.model.load import Model


def down_set(model: Model, failed: set[str]) -> set[str]:
    """The smallest set holding `failed` and every component whose up-condition fails given it."""
    down = set(failed)
    changed = True
    while changed:
        changed = False
        for name, c in model.components.items():
            if name in down:
                continue
            dead = any(d in down for d in c.requires)
            if c.any_of is not None:
                dead |= all(m in down for m in c.any_of)
            if c.k_of_n is not None:
                dead |= sum(m not in down for m in c.k_of_n.of) < c.k_of_n.k
            if dead:
                down.add(name)
                changed = True
    return down


def degraded_set(model: Model, down: set[str]) -> set[str]:
    """Components not down with a `uses` down or a `requires` degraded (least fixpoint)."""
    degraded: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, c in model.components.items():
            if name in down or name in degraded:
                continue
            if any(u in down for u in c.uses) or any(r in degraded for r in c.requires):
                degraded.add(name)
                changed = True
    return degraded


def spofs(model: Model, target: str) -> list[str]:
    """Components that can fail and whose failure alone takes `target` down (target excluded)."""
    return sorted(
        name
        for name, c in model.components.items()
        if name != target and c.can_fail and target in down_set(model, {name})
    )
