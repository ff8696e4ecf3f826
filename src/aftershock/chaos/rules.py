"""DNS fault rules: what to match (name, type), when (window, probability) and what to answer.

A rules file and the control API take the same objects::

    rules:
      - {match: dynamodb.us-east-1.amazonaws.com, type: A, action: empty}
      - {match: "*.flaky.example", action: servfail, probability: 0.3}
      - {match: slow.example, action: delay, delay: 2s, jitter: 500ms}
      - {match: moved.example, action: wrong_address, addresses: [192.0.2.7]}
      - {match: "~^api[0-9]+\\.example$", action: nxdomain, from: "+1m", until: "+5m"}

Rules are tried in order; the first one whose name, type and window match and which wins its
probability roll decides the answer. `delay` and `ttl` modify the normal answer, every other
action replaces it.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aftershock.errors import AftershockError, did_you_mean
from aftershock.model.durations import parse_duration
from aftershock.model.source import read_document

ACTIONS = ("empty", "nxdomain", "servfail", "refused", "drop", "delay", "wrong_address", "ttl")
KEYS = (
    "id",
    "match",
    "type",
    "action",
    "probability",
    "from",
    "until",
    "delay",
    "jitter",
    "addresses",
    "ttl",
    "negative_ttl",
    "comment",
)
# Record types a rule may name (RFC 1035, 3596, 2782, 6672, 7477, 8659, 9460).
TYPES = (
    "A",
    "AAAA",
    "CNAME",
    "MX",
    "NS",
    "PTR",
    "SOA",
    "SRV",
    "TXT",
    "CAA",
    "DNAME",
    "HTTPS",
    "SVCB",
    "NAPTR",
    "DS",
    "DNSKEY",
    "ANY",
)
DEFAULT_NEGATIVE_TTL_S = 60.0
DEFAULT_ANSWER_TTL_S = 60.0
MAX_REGEX_CHARS = 512
MAX_DELAY_S = 60.0


class RuleError(AftershockError):
    """A fault rule is not valid."""


@dataclass
class Rule:
    """One validated fault rule; `hits` counts answers it decided, `matched` queries it matched."""

    id: str
    match: str
    action: str
    types: frozenset[str] | None = None
    probability: float = 1.0
    start_epoch_s: float | None = None
    end_epoch_s: float | None = None
    delay_s: float = 0.0
    jitter_s: float = 0.0
    addresses: tuple[str, ...] = ()
    ttl_s: int | None = None
    negative_ttl_s: int = int(DEFAULT_NEGATIVE_TTL_S)
    comment: str | None = None
    source: str = "api"
    hits: int = 0
    matched: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    @property
    def kind_of_match(self) -> str:
        """`exact`, `wildcard` or `regex`."""
        if self.match.startswith("~"):
            return "regex"
        return "wildcard" if self.match.startswith("*.") else "exact"

    def matches_name(self, qname: str) -> bool:
        """Whether a normalised query name (lower case, no trailing dot) is matched."""
        kind = self.kind_of_match
        if kind == "exact":
            return qname == self.match
        if kind == "wildcard":
            return qname.endswith(self.match[1:])
        assert self._regex is not None
        return self._regex.search(qname) is not None

    def matches_type(self, qtype: str) -> bool:
        """Whether the query type is one the rule names (any when it names none)."""
        return self.types is None or qtype in self.types or "ANY" in self.types

    def active(self, now_epoch_s: float) -> bool:
        """Whether `now` is inside the rule's window."""
        if self.start_epoch_s is not None and now_epoch_s < self.start_epoch_s:
            return False
        return self.end_epoch_s is None or now_epoch_s < self.end_epoch_s

    def addresses_for(self, qtype: str) -> list[str]:
        """The rule's addresses of the family the query type asks for (A: IPv4, AAAA: IPv6)."""
        version = 4 if qtype == "A" else 6 if qtype == "AAAA" else 0
        return [a for a in self.addresses if ipaddress.ip_address(a).version == version]

    def to_dict(self) -> dict[str, Any]:
        """The rule as the control API shows it: the file format plus counters and window."""
        out: dict[str, Any] = {"id": self.id, "match": self.match, "action": self.action}
        if self.types is not None:
            out["type"] = sorted(self.types)
        if self.probability != 1.0:
            out["probability"] = self.probability
        if self.start_epoch_s is not None:
            out["from"] = _iso(self.start_epoch_s)
        if self.end_epoch_s is not None:
            out["until"] = _iso(self.end_epoch_s)
        if self.action == "delay":
            out["delay"] = f"{self.delay_s:g}s"
            out["jitter"] = f"{self.jitter_s:g}s"
        if self.addresses:
            out["addresses"] = list(self.addresses)
        if self.ttl_s is not None:
            out["ttl"] = self.ttl_s
        if self.action in ("empty", "nxdomain"):
            out["negative_ttl"] = self.negative_ttl_s
        if self.comment:
            out["comment"] = self.comment
        out.update(source=self.source, active=self.active(time.time()))
        out.update(hits=self.hits, matched=self.matched)
        return out


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="seconds")


_ids = itertools.count(1)


def parse_rule(
    raw: Any,
    *,
    loaded_epoch_s: float | None = None,
    source: str = "api",
    where: str = "rule",
    locate: Any = None,
) -> Rule:
    """Validate one rule object (from a file or the API) into a `Rule`.

    `loaded_epoch_s` anchors relative windows (`from: +1m`); `locate(keys)` gives
    (file, line, column) for errors, `where` names the rule in messages.
    """
    loaded = time.time() if loaded_epoch_s is None else loaded_epoch_s

    def fail(message: str, key: str | None = None, hint: str | None = None) -> RuleError:
        file, line, col = locate((key,) if key else ()) if locate else (None, None, None)
        return RuleError(f"{where}: {message}", file=file, line=line, column=col, hint=hint)

    if not isinstance(raw, Mapping):
        raise fail(
            f"a rule is a mapping, not {type(raw).__name__}",
            hint="write it like {match: api.example, action: empty}",
        )
    for key in raw:
        if key not in KEYS:
            raise fail(
                f"unknown key '{key}'",
                str(key),
                did_you_mean(str(key), KEYS) or "allowed keys: " + ", ".join(KEYS),
            )
    if "match" not in raw:
        raise fail("missing required key 'match'", hint="the name to match, e.g. api.example")
    if "action" not in raw:
        raise fail("missing required key 'action'", hint="one of: " + ", ".join(ACTIONS))
    action = str(raw["action"]).lower()
    if action not in ACTIONS:
        raise fail(
            f"unknown action '{raw['action']}'",
            "action",
            did_you_mean(action, ACTIONS) or "actions: " + ", ".join(ACTIONS),
        )
    match, regex = _parse_match(raw["match"], fail)
    rule = Rule(
        id=str(raw.get("id") or f"r{next(_ids)}"),
        match=match,
        action=action,
        types=_parse_types(raw.get("type"), fail),
        probability=_parse_probability(raw.get("probability", 1.0), fail),
        comment=str(raw["comment"]) if raw.get("comment") is not None else None,
        source=source,
        _regex=regex,
    )
    if "from" in raw:
        rule.start_epoch_s = _parse_instant(raw["from"], loaded, fail, "from")
    if "until" in raw:
        rule.end_epoch_s = _parse_instant(raw["until"], loaded, fail, "until")
    if rule.start_epoch_s and rule.end_epoch_s and rule.end_epoch_s <= rule.start_epoch_s:
        raise fail("'until' is not after 'from'", "until")
    _parse_action_options(rule, raw, fail)
    return rule


def _parse_match(value: Any, fail: Any) -> tuple[str, re.Pattern[str] | None]:
    if not isinstance(value, str) or not value.strip():
        raise fail("'match' must be a non-empty name", "match")
    text = value.strip()
    if text.startswith("~"):
        if len(text) > MAX_REGEX_CHARS:
            raise fail(f"the regex is longer than {MAX_REGEX_CHARS} characters", "match")
        try:
            return text, re.compile(text[1:], re.IGNORECASE)
        except re.error as exc:
            raise fail(
                f"bad regular expression: {exc}", "match", "a leading ~ marks a Python regex"
            ) from None
    name = text.lower().rstrip(".")
    body = name[2:] if name.startswith("*.") else name
    if not body or "*" in body or any(not label for label in body.split(".")):
        raise fail(
            f"'{value}' is not a DNS name or a wildcard",
            "match",
            "write api.example, *.example (any name under it) or ~regex",
        )
    return name, None


def _parse_types(value: Any, fail: Any) -> frozenset[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    types: set[str] = set()
    for item in items:
        name = str(item).upper()
        if name not in TYPES:
            raise fail(
                f"unknown record type '{item}'",
                "type",
                did_you_mean(name, TYPES) or "types: " + ", ".join(TYPES),
            )
        types.add(name)
    return frozenset(types) if types and "ANY" not in types else None


def _parse_probability(value: Any, fail: Any) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise fail(f"probability {value!r} is not a number", "probability") from None
    if not 0.0 <= p <= 1.0:
        raise fail(f"probability {p} is outside [0, 1]", "probability")
    return p


def _duration(raw: Mapping[str, Any], key: str, fail: Any, default: float = 0.0) -> float:
    if key not in raw:
        return default
    try:
        return parse_duration(raw[key])
    except ValueError as exc:
        raise fail(str(exc), key, "write durations like 500ms, 2s or 5m") from None


def _parse_instant(value: Any, loaded: float, fail: Any, key: str) -> float:
    """`+90s` (relative to loading), an ISO 8601 date-time, or a YAML timestamp."""
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.astimezone().timestamp()
    text = str(value).strip()
    if text.startswith("+"):
        try:
            return loaded + parse_duration(text[1:])
        except ValueError:
            raise fail(f"'{value}' is not an offset", key, "write +30s, +5m, +1h") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"'{value}' is not a time", key, "write +5m (after loading) or 2026-01-01T10:00:00Z"
        ) from None
    return moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp()


def _parse_action_options(rule: Rule, raw: Mapping[str, Any], fail: Any) -> None:
    action = rule.action
    if action == "delay":
        if "delay" not in raw:
            raise fail("action 'delay' needs 'delay'", hint="e.g. delay: 2s, jitter: 500ms")
        rule.delay_s = _duration(raw, "delay", fail)
        rule.jitter_s = _duration(raw, "jitter", fail)
        if rule.delay_s + rule.jitter_s > MAX_DELAY_S:
            raise fail(f"delay + jitter is over {MAX_DELAY_S:g}s", "delay", "use action: drop")
    elif "delay" in raw or "jitter" in raw:
        raise fail(
            "'delay'/'jitter' only apply to action 'delay'", "delay" if "delay" in raw else "jitter"
        )
    if action == "wrong_address":
        addresses = raw.get("addresses")
        if isinstance(addresses, str):
            addresses = [addresses]
        if not addresses or not isinstance(addresses, list):
            raise fail(
                "action 'wrong_address' needs 'addresses'", "addresses", "addresses: [192.0.2.7]"
            )
        clean = []
        for a in addresses:
            try:
                clean.append(str(ipaddress.ip_address(str(a))))
            except ValueError:
                raise fail(f"'{a}' is not an IPv4 or IPv6 address", "addresses") from None
        rule.addresses = tuple(clean)
    elif "addresses" in raw:
        raise fail("'addresses' only applies to action 'wrong_address'", "addresses")
    if "ttl" in raw:
        if action not in ("ttl", "wrong_address"):
            raise fail("'ttl' only applies to actions 'ttl' and 'wrong_address'", "ttl")
        rule.ttl_s = int(_duration(raw, "ttl", fail))
    elif action == "ttl":
        raise fail("action 'ttl' needs 'ttl'", hint="e.g. ttl: 0 (clients must re-resolve)")
    if action == "wrong_address" and rule.ttl_s is None:
        rule.ttl_s = int(DEFAULT_ANSWER_TTL_S)
    if "negative_ttl" in raw:
        if action not in ("empty", "nxdomain"):
            raise fail(
                "'negative_ttl' only applies to actions 'empty' and 'nxdomain'", "negative_ttl"
            )
        rule.negative_ttl_s = int(_duration(raw, "negative_ttl", fail))
    for limited in ("ttl_s", "negative_ttl_s"):
        value = getattr(rule, limited)
        if value is not None and value > 2**31 - 1:
            raise fail(f"{limited[:-2]} is over 2^31-1 seconds (RFC 2181)", limited[:-2])


def load_rules_file(path: str | Path, *, loaded_epoch_s: float | None = None) -> list[Rule]:
    """Read a rules file (YAML or JSON, `rules:` list); errors name the file, line and rule."""
    doc = read_document(path)
    data = doc.data
    if isinstance(data, list):
        items, prefix = data, ()
    elif isinstance(data, dict) and isinstance(data.get("rules", []), list):
        unknown = [k for k in data if k != "rules"]
        if unknown:
            line, col = doc.locate_key((unknown[0],))
            raise RuleError(
                f"unknown key '{unknown[0]}'",
                file=doc.path,
                line=line,
                column=col,
                hint="a rules file holds one key, `rules:`",
            )
        items, prefix = data.get("rules") or [], ("rules",)
    else:
        raise RuleError(
            "a rules file is a mapping with a `rules:` list", file=doc.path, line=1, column=1
        )
    rules = []
    for i, raw in enumerate(items):

        def locate(keys: tuple[Any, ...], i: int = i) -> tuple[str, int | None, int | None]:
            line, col = doc.locate_key((*prefix, i, *keys)) if keys else doc.locate((*prefix, i))
            return doc.path, line, col

        rule = parse_rule(
            raw, loaded_epoch_s=loaded_epoch_s, source="file", where=f"rule {i + 1}", locate=locate
        )
        if not (isinstance(raw, Mapping) and raw.get("id")):
            rule.id = f"file{i + 1}"  # stable across reloads, so counters carry over
        rules.append(rule)
    _check_unique(rules, doc.path)
    return rules


def _check_unique(rules: Iterable[Rule], file: str | None = None) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"rule id '{rule.id}' is used twice", file=file, hint="ids are unique")
        seen.add(rule.id)


class RuleSet:
    """An immutable, ordered set of rules indexed for lookup by name."""

    CACHE_LIMIT = 4096

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._exact: dict[str, list[int]] = {}
        self._scanned: list[int] = []  # wildcard and regex rules, tried on every name
        for i, rule in enumerate(self.rules):
            if rule.kind_of_match == "exact":
                self._exact.setdefault(rule.match, []).append(i)
            else:
                self._scanned.append(i)
        self._candidates: dict[str, tuple[Rule, ...]] = {}

    def candidates(self, qname: str) -> tuple[Rule, ...]:
        """Rules whose name pattern matches `qname`, in order (memoised, bounded)."""
        found = self._candidates.get(qname)
        if found is None:
            idx = sorted(
                self._exact.get(qname, [])
                + [i for i in self._scanned if self.rules[i].matches_name(qname)]
            )
            found = tuple(self.rules[i] for i in idx)
            if len(self._candidates) >= self.CACHE_LIMIT:
                self._candidates.clear()
            self._candidates[qname] = found
        return found

    def decide(
        self,
        qname: str,
        qtype: str,
        now_epoch_s: float | None = None,
        rng: random.Random | None = None,
    ) -> Rule | None:
        """The rule that decides this query's answer, or None to answer normally
        (`now_epoch_s` defaults to the current time, read only when a rule names the query)."""
        candidates = self.candidates(qname)
        if not candidates:
            return None
        now = time.time() if now_epoch_s is None else now_epoch_s
        for rule in candidates:
            if not rule.matches_type(qtype) or not rule.active(now):
                continue
            rule.matched += 1
            if rule.probability >= 1.0 or (rng or random).random() < rule.probability:
                rule.hits += 1
                return rule
        return None


class RuleStore:
    """Rules from the file (replaced on reload) and from the API (added/removed one by one).

    Writers (the control API thread, reloads) build a new `RuleSet` and swap it in; the DNS
    path only reads `ruleset`, so it never takes the lock.
    """

    def __init__(self, file_rules: Iterable[Rule] = (), api_rules: Iterable[Rule] = ()) -> None:
        self._lock = threading.Lock()
        self._file: list[Rule] = list(file_rules)
        self._api: list[Rule] = list(api_rules)
        _check_unique(self._file + self._api)
        self.ruleset = RuleSet(self._file + self._api)
        self.generation = 0

    def _publish(self) -> None:
        self.ruleset = RuleSet(self._file + self._api)
        self.generation += 1

    def all(self) -> list[Rule]:
        """Every rule in the order they are tried (file rules first)."""
        return list(self.ruleset.rules)

    def replace_file_rules(self, rules: Iterable[Rule]) -> None:
        """Swap in freshly loaded file rules, keeping the counters of rules whose id stayed."""
        with self._lock:
            old = {r.id: r for r in self._file}
            new = list(rules)
            for rule in new:
                if rule.id in old:
                    rule.hits, rule.matched = old[rule.id].hits, old[rule.id].matched
            _check_unique(new + self._api)
            self._file = new
            self._publish()

    def add(self, rules: Iterable[Rule]) -> list[Rule]:
        """Add API rules (after the file rules); their ids must be new."""
        with self._lock:
            added = list(rules)
            _check_unique(self._file + self._api + added)
            self._api.extend(added)
            self._publish()
            return added

    def remove(self, rule_id: str) -> bool:
        """Remove one rule by id (API or file rule, until the file is reloaded)."""
        with self._lock:
            before = len(self._api) + len(self._file)
            self._api = [r for r in self._api if r.id != rule_id]
            self._file = [r for r in self._file if r.id != rule_id]
            removed = len(self._api) + len(self._file) < before
            if removed:
                self._publish()
            return removed

    def clear(self, *, include_file_rules: bool = False) -> int:
        """Remove every API rule (and the file rules too when asked); returns how many went."""
        with self._lock:
            count = len(self._api) + (len(self._file) if include_file_rules else 0)
            self._api = []
            if include_file_rules:
                self._file = []
            self._publish()
            return count
