"""Policy files for `aftershock check`: the rules a model must hold, parsed with located errors.

```yaml
version: 1
rules:
  - {rule: no_spof, where: {tags: {tier: 1}}}
  - {rule: min_availability, target: checkout, value: 0.9995}
  - {rule: no_hard_cycles}
  - {rule: no_single_region, where: {tags: {tier: 1}}}
  - {rule: max_blast_revenue_per_hour, value: 500000}
```

The reference is docs/ci.md. Every mistake is an `AftershockError` naming the file, line, column and
the key at fault, with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.source import Document, read_document

Scalar = str | int | float | bool

# rule -> (keys it accepts besides `rule`, whether `value` is required, what `value` means)
RULES: dict[str, tuple[frozenset[str], bool, str]] = {
    "no_spof": (frozenset({"target", "targets", "where"}), False, ""),
    "min_availability": (
        frozenset({"target", "targets", "where", "value"}),
        True,
        "the lowest acceptable availability, a number in (0, 1], e.g. 0.9995",
    ),
    "no_hard_cycles": (frozenset(), False, ""),
    "no_single_region": (frozenset({"target", "targets", "where"}), False, ""),
    "max_blast_revenue_per_hour": (
        frozenset({"where", "value"}),
        True,
        "the most revenue per hour one component's failure may put at risk, e.g. 500000",
    ),
}
COMMON_KEYS = frozenset({"rule", "name", "description"})
WHERE_KEYS = ("tags", "kind", "names")


class PolicyError(AftershockError):
    """A policy file is not valid."""


@dataclass(frozen=True)
class Where:
    """A selection of components: all conditions must hold (tags equal, kind in, name in)."""

    tags: dict[str, Scalar] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def describe(self) -> str:
        """Short text such as `tags tier=1, kind service`."""
        parts = []
        if self.tags:
            parts.append("tags " + ", ".join(f"{k}={v}" for k, v in self.tags.items()))
        if self.kinds:
            parts.append("kind " + "/".join(self.kinds))
        if self.names:
            parts.append("names " + ", ".join(self.names))
        return "; ".join(parts) or "every component"


@dataclass(frozen=True)
class Rule:
    """One rule of a policy, with where it was written (for errors about it later)."""

    index: int
    rule: str
    name: str
    targets: tuple[str, ...] = ()
    where: Where | None = None
    value: float | None = None
    description: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def error(self, message: str, hint: str | None = None) -> PolicyError:
        """A located error about this rule (raise it)."""
        return PolicyError(
            f"rule {self.index + 1} ({self.rule}): {message}",
            file=self.file,
            line=self.line,
            column=self.column,
            hint=hint,
        )


@dataclass(frozen=True)
class Policy:
    """A parsed policy file."""

    path: str
    rules: tuple[Rule, ...]
    name: str | None = None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file (YAML or JSON)."""
    return parse_policy(read_document(path, text=None), error_type=PolicyError)


def load_policy_text(text: str, path: str = "<policy>") -> Policy:
    """Validate a policy given as YAML/JSON text."""
    return parse_policy(read_document(path, text=text), error_type=PolicyError)


def parse_policy(doc: Document, error_type: type[AftershockError] = PolicyError) -> Policy:
    """Validate a parsed document as a policy."""

    def fail(message: str, keys: tuple[Any, ...], hint: str | None = None, key: bool = False) -> None:
        line, col = doc.locate_key(keys) if key else doc.locate(keys)
        raise error_type(message, file=doc.path, line=line, column=col, hint=hint)

    data = doc.data
    if not isinstance(data, dict):
        fail(
            f"a policy is a mapping with `version` and `rules`, but this is a {type(data).__name__}",
            (),
            hint="start with `version: 1` and a `rules:` list",
        )
    for key in data:
        if key not in ("version", "name", "rules"):
            fail(
                f"unknown key '{key}'",
                (key,),
                hint=did_you_mean(key, ["version", "name", "rules"]) or "allowed: version, name, rules",
                key=True,
            )
    if data.get("version", 1) != 1:
        fail(f"unsupported policy version {data['version']!r}", ("version",), hint="write `version: 1`")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        fail(
            "`rules` must be a non-empty list",
            ("rules",) if "rules" in data else (),
            hint="for example: rules: [{rule: no_spof, where: {tags: {tier: 1}}}]",
        )
    parsed = [_parse_rule(doc, i, r, fail) for i, r in enumerate(rules)]
    names = [r.name for r in parsed]
    for i, rule in enumerate(parsed):
        if names.index(rule.name) != i:
            fail(
                f"two rules are named '{rule.name}'",
                ("rules", i),
                hint="give one of them a different `name:` (JUnit test names must be unique)",
            )
    name = data.get("name")
    return Policy(path=doc.path, rules=tuple(parsed), name=str(name) if name is not None else None)


def _parse_rule(doc: Document, i: int, raw: Any, fail: Any) -> Rule:
    here = ("rules", i)
    if not isinstance(raw, dict):
        fail("a rule is a mapping such as {rule: no_spof}", here)
    kind = raw.get("rule")
    if kind is None:
        fail("missing key 'rule'", here, hint="rules: " + ", ".join(RULES))
    if kind not in RULES:
        fail(
            f"unknown rule {kind!r}",
            (*here, "rule"),
            hint=did_you_mean(str(kind), RULES) or "rules: " + ", ".join(RULES),
        )
    allowed, needs_value, value_meaning = RULES[kind]
    for key in raw:
        if key not in allowed | COMMON_KEYS:
            keys = sorted(allowed | COMMON_KEYS)
            fail(
                f"unknown key '{key}' for rule {kind}",
                (*here, key),
                hint=did_you_mean(str(key), keys) or f"{kind} accepts: " + ", ".join(keys),
                key=True,
            )
    targets: list[str] = []
    if "target" in raw and "targets" in raw:
        fail("give `target` or `targets`, not both", (*here, "targets"), key=True)
    if "target" in raw:
        if not isinstance(raw["target"], str) or not raw["target"]:
            fail("`target` is one component name", (*here, "target"))
        targets = [raw["target"]]
    if "targets" in raw:
        if not isinstance(raw["targets"], list) or not raw["targets"] or not all(
            isinstance(t, str) and t for t in raw["targets"]
        ):
            fail("`targets` is a non-empty list of component names", (*here, "targets"))
        targets = list(raw["targets"])
    if targets and "where" in raw:
        fail("give targets or `where`, not both", (*here, "where"), key=True)
    where = _parse_where(raw["where"], (*here, "where"), fail) if "where" in raw else None
    value: float | None = None
    if needs_value:
        if "value" not in raw:
            fail(f"missing key 'value': {value_meaning}", here)
        v = raw["value"]
        if isinstance(v, bool) or not isinstance(v, int | float):
            fail(f"`value` must be a number: {value_meaning}", (*here, "value"))
        value = float(v)
        if kind == "min_availability" and not 0 < value <= 1:
            fail(
                f"availability {v} is not in (0, 1]",
                (*here, "value"),
                hint="write a fraction: 0.9995 for 99.95%",
            )
        if kind == "max_blast_revenue_per_hour" and value < 0:
            fail("`value` must not be negative", (*here, "value"))
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        fail("`name` is a non-empty string", (*here, "name"))
    line, col = doc.locate(here)
    return Rule(
        index=i,
        rule=kind,
        name=name or _default_name(kind, targets, where, value),
        targets=tuple(targets),
        where=where,
        value=value,
        description=str(raw["description"]) if raw.get("description") is not None else None,
        file=doc.path,
        line=line,
        column=col,
    )


def _parse_where(raw: Any, here: tuple[Any, ...], fail: Any) -> Where:
    if not isinstance(raw, dict) or not raw:
        fail("`where` is a mapping with tags, kind or names", here, hint="e.g. where: {tags: {tier: 1}}")
    for key in raw:
        if key not in WHERE_KEYS:
            fail(
                f"unknown key '{key}' in where",
                (*here, key),
                hint=did_you_mean(str(key), WHERE_KEYS) or "where accepts: tags, kind, names",
                key=True,
            )
    tags = raw.get("tags", {})
    if not isinstance(tags, dict) or not all(
        isinstance(v, str | int | float | bool) for v in tags.values()
    ):
        fail("`tags` maps tag names to plain values", (*here, "tags"), hint="e.g. tags: {tier: 1}")
    kinds = _names_or_list(raw.get("kind"), (*here, "kind"), fail)
    names = _names_or_list(raw.get("names"), (*here, "names"), fail)
    return Where(tags={str(k): v for k, v in tags.items()}, kinds=kinds, names=names)


def _names_or_list(raw: Any, here: tuple[Any, ...], fail: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str) and raw:
        return (raw,)
    if isinstance(raw, list) and raw and all(isinstance(x, str) and x for x in raw):
        return tuple(raw)
    fail("expected a name or a non-empty list of names", here)
    return ()


def _default_name(kind: str, targets: list[str], where: Where | None, value: float | None) -> str:
    parts = [kind]
    if targets:
        parts.append(",".join(targets))
    elif where is not None:
        parts.append(where.describe())
    if value is not None:
        parts.append(f"{value:g}")
    return " ".join(parts)
