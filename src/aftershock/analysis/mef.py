"""Open-PSA Model Exchange Format (MEF): read fault trees from it, write ours to it.

Reading supports the fault-tree part of MEF 2.0: `define-fault-tree` (and `define-component`
inside it), `model-data`, gates `and`, `or`, `atleast`, `cardinality`, `not`, `nand`, `nor`,
`xor`, `iff`, `imply` (nested formulas included), references `gate`, `basic-event`,
`house-event`, `event`, `constant`, house events, common-cause failure groups
(`define-CCF-group`, models beta-factor, MGL, alpha-factor and phi-factor, expanded as SCRAM
does), and basic-event probabilities given as `float`/`int` or a simple expression
(`parameter`, `add`, `sub`, `mul`, `div`, `neg`, `exponential`, `system-mission-time`). Several
files are merged into one namespace. Every error names the file, line and element at fault.

Writing produces a file SCRAM and XFTA read: identifiers are made MEF-safe (NCName, no dots) and
the original name is kept in each element's `<label>`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from aftershock.analysis.fault_tree_model import (
    Arg,
    ArgKind,
    FaultTree,
    FaultTreeError,
    Gate,
    find_gate_cycle,
)
from aftershock.errors import did_you_mean
from aftershock.gc_pause import collector_paused

MAX_MEF_BYTES = 256 * 1024 * 1024
DEFAULT_MISSION_TIME_H = 8760.0

_CONNECTIVES = {"and", "or", "atleast", "cardinality", "not", "nand", "nor", "xor", "iff", "imply"}
_REFERENCES = {"gate", "basic-event", "house-event", "event"}
_IGNORED = {"label", "attributes", "attribute"}
_UNSUPPORTED = {
    "define-substitution": "substitutions",
}


@dataclass
class Element:
    """An XML element with the place it was written."""

    tag: str
    attrs: dict[str, str]
    file: str
    line: int
    column: int
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def error(self, message: str, hint: str | None = None) -> FaultTreeError:
        """A located error about this element."""
        return FaultTreeError(f"<{self.tag}>: {message}", file=self.file, line=self.line,
                              column=self.column, hint=hint)

    def name(self) -> str:
        """The required `name` attribute."""
        value = self.attrs.get("name", "").strip()
        if not value:
            raise self.error("missing the 'name' attribute")
        return value

    def content(self) -> list[Element]:
        """Children other than labels and attributes."""
        return [c for c in self.children if c.tag not in _IGNORED]


# ------------------------------------------------------------------------------------------
# XML with positions (expat; no DTDs, so no entity expansion attacks).


def parse_xml(path: str | Path, text: bytes | None = None) -> Element:
    """Parse an XML file into `Element`s carrying line and column; DTDs and entities refused."""
    file = str(path)
    if text is None:
        p = Path(path)
        if not p.is_file():
            raise FaultTreeError("file not found", file=file, hint="check the path")
        if p.stat().st_size > MAX_MEF_BYTES:
            raise FaultTreeError(f"file is over the limit of {MAX_MEF_BYTES} bytes", file=file)
        text = p.read_bytes()
    parser = expat.ParserCreate()
    stack: list[Element] = []
    roots: list[Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = Element(tag, attrs, file, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        (stack[-1].children if stack else roots).append(el)
        stack.append(el)

    def end(tag: str) -> None:
        stack.pop()

    def refuse_dtd(*_: object) -> None:
        raise FaultTreeError("DTDs and entities are not allowed in MEF input", file=file,
                             line=parser.CurrentLineNumber, column=parser.CurrentColumnNumber + 1)

    def chars(data: str) -> None:
        if stack and stack[-1].tag == "label":
            stack[-1].text += data

    parser.CharacterDataHandler = chars
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise FaultTreeError(f"malformed XML: {expat.errors.messages[exc.code]}", file=file,
                             line=exc.lineno, column=exc.offset + 1,
                             hint="check that every element is closed and quoted") from None
    if not roots:
        raise FaultTreeError("no XML element found", file=file)
    return roots[0]


# ------------------------------------------------------------------------------------------
# Reading


@dataclass
class _Definitions:
    gates: dict[str, tuple[Element, Element]] = field(default_factory=dict)  # name -> (define, formula)
    basic: dict[str, Element] = field(default_factory=dict)
    house: dict[str, Element] = field(default_factory=dict)
    parameters: dict[str, Element] = field(default_factory=dict)
    names: dict[str, Element] = field(default_factory=dict)  # every event name -> its definition
    tree_names: list[str] = field(default_factory=list)
    ccf_groups: list[tuple[Element, list[str]]] = field(default_factory=list)  # (group, members)
    ccf_members: set[str] = field(default_factory=set)  # each is referenced as its expansion's gate


def read_fault_tree(paths: list[str | Path] | str | Path, top: str | None = None,
                    mission_time_h: float = DEFAULT_MISSION_TIME_H) -> FaultTree:
    """Read one or more MEF files into a checked `FaultTree` whose top gate is `top` (or the one
    gate no other gate uses)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise FaultTreeError("no MEF file given")
    with collector_paused():  # thousands of acyclic elements: see aftershock.gc_pause
        defs = _Definitions()
        for path in paths:
            root = parse_xml(path)
            if root.tag != "opsa-mef":
                raise root.error("the root element of an MEF file must be <opsa-mef>",
                                 hint="is this an Open-PSA MEF file?")
            _collect(root, defs)
        if not defs.gates:
            raise FaultTreeError("no gate is defined", file=str(paths[0]),
                                 hint="a fault tree is a <define-fault-tree> holding <define-gate>s")
        return _assemble(defs, top, mission_time_h, str(paths[0]))


def _collect(container: Element, defs: _Definitions) -> None:
    for el in container.children:
        if el.tag in _UNSUPPORTED:
            raise el.error(f"{_UNSUPPORTED[el.tag]} are not supported")
        if el.tag in ("define-fault-tree", "define-component"):
            if el.tag == "define-fault-tree":
                defs.tree_names.append(el.name())
            _collect(el, defs)
        elif el.tag == "model-data":
            _collect(el, defs)
        elif el.tag == "define-gate":
            formulas = el.content()
            if len(formulas) != 1:
                raise el.error(f"gate '{el.name()}' must hold exactly one formula, found {len(formulas)}")
            _define(defs, el, "gate")
            defs.gates[el.name()] = (el, formulas[0])
        elif el.tag == "define-basic-event":
            _define(defs, el, "basic event")
            defs.basic[el.name()] = el
        elif el.tag == "define-house-event":
            _define(defs, el, "house event")
            defs.house[el.name()] = el
        elif el.tag == "define-CCF-group":
            defs.ccf_groups.append((el, _ccf_members(defs, el)))
        elif el.tag == "define-parameter":
            name = el.name()
            if name in defs.parameters:
                first = defs.parameters[name]
                raise el.error(f"parameter '{name}' is defined twice (first at {first.file}:{first.line})")
            defs.parameters[name] = el
        # Event trees, sequences, rules, alignments...: outside fault-tree analysis, ignored.


def _define(defs: _Definitions, el: Element, what: str) -> None:
    name = el.name()
    first = defs.names.get(name)
    if first is not None:
        raise el.error(f"{what} '{name}' is defined twice (first as <{first.tag}> at "
                       f"{first.file}:{first.line})", hint="event names are shared by gates, basic and "
                       "house events across all files; rename one")
    defs.names[name] = el


def _assemble(defs: _Definitions, top: str | None, mission_time_h: float, first_file: str) -> FaultTree:
    gates: dict[str, Gate] = {}
    constants: dict[str, bool] = {}
    for name, (define, formula) in defs.gates.items():
        _gate_from_formula(defs, name, define, formula, gates, constants)
    basic = {name: _basic_probability(defs, el, mission_time_h)
             for name, el in defs.basic.items() if name not in defs.ccf_members}
    for group, group_members in defs.ccf_groups:
        _expand_ccf_group(defs, group, group_members, gates, basic, mission_time_h)
    house = {name: _house_value(el) for name, el in defs.house.items()}
    house.update(constants)
    used = {a.name for g in gates.values() for a in g.args if a.kind == "gate"}
    if top is None:
        roots = [g for g in defs.gates if g not in used]
        if len(roots) != 1:
            listed = ", ".join(roots[:8]) + (" ..." if len(roots) > 8 else "")
            el = defs.gates[roots[0]][0] if roots else None
            raise FaultTreeError(
                f"{len(roots)} gates are not used by any other gate ({listed}): which is the top event?"
                if roots else "every gate is used by another gate: the gates form a cycle",
                file=el.file if el else first_file, line=el.line if el else None,
                hint="name the top gate with --top",
            )
        top = roots[0]
    elif top not in defs.gates:
        roots = [g for g in defs.gates if g not in used][:5]
        raise FaultTreeError(f"top gate '{top}' is not defined", file=first_file,
                             hint=did_you_mean(top, defs.gates)
                             or f"gates no other gate uses: {', '.join(roots) or 'none'}")
    labels = {name: lab for name, lab in ((n, _label(el)) for n, (el, _) in defs.gates.items()) if lab}
    labels.update({n: lab for n, el in defs.basic.items() if (lab := _label(el))})
    tree = FaultTree(name=defs.tree_names[0] if defs.tree_names else Path(first_file).stem, top=top,
                     gates=gates, basic_events=basic, house_events=house, labels=labels,
                     source=first_file)
    cycle = find_gate_cycle(tree)
    if cycle:
        el = defs.gates[cycle[0].split("[")[0]][0] if cycle[0].split("[")[0] in defs.gates else None
        raise FaultTreeError(
            "gates form a cycle: " + " -> ".join(cycle), file=el.file if el else first_file,
            line=el.line if el else None, column=el.column if el else None,
            hint="a fault tree is acyclic; break the loop",
        )
    return tree


# ------------------------------------------------------------------------------------------
# Common-cause failure groups, expanded as SCRAM does (`--ccf true`): each member becomes the OR
# of one basic event per subset of the group that contains it (its independent failure, the
# subset of size 1, and its common-cause failures with the others), each subset of k members
# with the probability Q_k of the group's model, from its total failure probability Q (the
# `distribution`) and its factors:
#   beta-factor (factor beta, level n):  Q_1 = (1 - beta) Q, Q_n = beta Q, no other subset;
#   MGL (factors rho_2..rho_m):          Q_k = rho_1...rho_k (1 - rho_{k+1}) Q / C(n-1, k-1),
#                                        rho_1 = 1, rho_{m+1} = 0;
#   alpha-factor (alpha_1..alpha_m):     Q_k = k alpha_k / alpha_t Q / C(n-1, k-1),
#                                        alpha_t = sum of k alpha_k;
#   phi-factor (phi_1..phi_m):           Q_k = phi_k Q.
# The event of subset {a, b} is named "[a b]", as in SCRAM's reports.

_CCF_MODELS = {"beta-factor": 2, "MGL": 2, "alpha-factor": 1, "phi-factor": 1}  # -> first level
_MAX_CCF_EVENTS = 100_000


def _ccf_members(defs: _Definitions, group: Element) -> list[str]:
    """The members of a CCF group; the group defines them (a second definition is an error)."""
    boxes = [c for c in group.content() if c.tag == "members"]
    if len(boxes) != 1:
        raise group.error(f"CCF group '{group.name()}' needs one <members> list, found {len(boxes)}")
    refs = boxes[0].content()
    for ref in refs:
        if ref.tag != "basic-event":
            raise ref.error(f"a member of CCF group '{group.name()}' must be a <basic-event>")
    if len(refs) < 2:
        raise boxes[0].error(f"CCF group '{group.name()}' has {len(refs)} member(s); it needs at least 2")
    names = []
    for ref in refs:
        _define(defs, ref, "basic event")
        defs.basic[ref.name()] = ref
        names.append(ref.name())
    defs.ccf_members.update(names)
    return names


def _expand_ccf_group(defs: _Definitions, group: Element, members: list[str], gates: dict[str, Gate],
                      basic: dict[str, float | None], mission_time_h: float) -> None:
    name, n = group.name(), len(members)
    model = group.attrs.get("model", "")
    if model not in _CCF_MODELS:
        raise group.error(f"CCF group '{name}': unknown model {model!r}",
                          hint="one of " + ", ".join(_CCF_MODELS))

    def value(el: Element, what: str) -> float:
        kids = el.content()
        if len(kids) != 1:
            raise el.error(f"CCF group '{name}': <{el.tag}> must hold exactly one expression")
        v = _evaluate(defs, kids[0], mission_time_h, ())
        if not 0.0 <= v <= 1.0 or math.isnan(v):
            raise el.error(f"CCF group '{name}': {what} {v:g} is outside [0, 1]")
        return v

    dists = [c for c in group.content() if c.tag == "distribution"]
    if len(dists) != 1:
        raise group.error(f"CCF group '{name}' needs one <distribution>, found {len(dists)}",
                          hint="the distribution is the total failure probability of each member")
    q = value(dists[0], "probability")
    factor_els: list[Element] = []
    for c in group.content():
        if c.tag == "factor":
            factor_els.append(c)
        elif c.tag == "factors":
            factor_els.extend(c.content())
    if not factor_els:
        raise group.error(f"CCF group '{name}' has no <factor>")
    first = n if model == "beta-factor" else _CCF_MODELS[model]
    factors: dict[int, float] = {}
    for i, el in enumerate(factor_els):
        if el.tag != "factor":
            raise el.error(f"CCF group '{name}': <factors> holds <factor> elements only")
        raw = el.attrs.get("level")
        try:
            level = int(raw) if raw is not None else first + i
        except ValueError:
            raise el.error(f"CCF group '{name}': level {raw!r} is not an integer") from None
        if level != first + i:
            raise el.error(f"CCF group '{name}': factor of level {level} where level {first + i} "
                           f"was expected", hint=f"the {model} model takes levels {first}, "
                           f"{first + 1}, ... in order, up to the group size {n}")
        if level > n:
            raise el.error(f"CCF group '{name}': level {level} is larger than the group ({n} members)")
        factors[level] = value(el, "factor")
    if model == "beta-factor" and len(factors) != 1:
        raise group.error(f"CCF group '{name}': a beta-factor model takes one factor, found {len(factors)}")
    top = max(factors) if model != "beta-factor" else n
    if sum(math.comb(n, k) for k in range(1, top + 1)) > _MAX_CCF_EVENTS:
        raise group.error(f"CCF group '{name}' of {n} members up to level {top} needs more than "
                          f"{_MAX_CCF_EVENTS} common-cause events", hint="split the group")
    q_k = _ccf_probabilities(model, n, q, factors, group)
    parts: dict[str, list[Arg]] = {m: [] for m in members}
    for k, qk in sorted(q_k.items()):
        for subset in itertools.combinations(members, k):
            event = "[" + " ".join(subset) + "]"
            basic[event] = qk
            for m in subset:
                parts[m].append(Arg("basic", event))
    for m in members:
        gates[m] = Gate(m, "or", tuple(parts[m])) if len(parts[m]) > 1 else Gate(m, "null", tuple(parts[m]))


def _ccf_probabilities(model: str, n: int, q: float, factors: dict[int, float],
                       group: Element) -> dict[int, float]:
    """Q_k, the probability of the common-cause event of each subset of k members."""
    if model == "beta-factor":
        beta = factors[n]
        return {1: (1.0 - beta) * q, n: beta * q}
    m = max(factors)
    if model == "MGL":
        rho = [1.0, 1.0] + [factors[k] for k in range(2, m + 1)] + [0.0]  # rho[k], k = 1..m+1
        return {k: math.prod(rho[1 : k + 1]) * (1.0 - rho[k + 1]) * q / math.comb(n - 1, k - 1)
                for k in range(1, m + 1)}
    if model == "alpha-factor":
        total = sum(k * a for k, a in factors.items())
        if total <= 0:
            raise group.error(f"CCF group '{group.name()}': the alpha factors are all zero")
        return {k: k * factors[k] / total * q / math.comb(n - 1, k - 1) for k in range(1, m + 1)}
    return {k: factors[k] * q for k in range(1, m + 1)}  # phi-factor


def _label(el: Element) -> str | None:
    for c in el.children:
        if c.tag == "label":
            return " ".join(c.text.split()) or None
    return None


def _gate_from_formula(defs: _Definitions, name: str, define: Element, formula: Element,
                       gates: dict[str, Gate], constants: dict[str, bool]) -> None:
    """Gate `name` for `formula`; nested formulas become gates `name[1]`, `name[2]`, ..."""
    counter = [0]

    def fresh(kind: str, args: tuple[Arg, ...], k: int | None = None) -> Arg:
        """A new inner gate `name[i]` of this kind over args."""
        counter[0] += 1
        inner = f"{name}[{counter[0]}]"
        gates[inner] = Gate(inner, kind, args, k)
        return Arg("gate", inner)

    def arg_of(el: Element) -> Arg:
        if el.tag in _REFERENCES:
            return _reference(defs, el)
        if el.tag in ("constant", "bool"):
            value = _bool_attr(el)
            key = "true" if value else "false"
            constants[key] = value
            return Arg("house", key)
        if el.tag in _CONNECTIVES:
            counter[0] += 1
            sub = f"{name}[{counter[0]}]"
            make(sub, el)
            return Arg("gate", sub)
        if el.tag in _UNSUPPORTED:
            raise el.error(f"{_UNSUPPORTED[el.tag]} are not supported")
        raise el.error(f"unknown formula element in gate '{name}'",
                       hint=did_you_mean(el.tag, sorted(_CONNECTIVES | _REFERENCES)))

    def make(gname: str, el: Element) -> None:
        if el.tag in _REFERENCES or el.tag in ("constant", "bool"):
            gates[gname] = Gate(gname, "null", (arg_of(el),))
            return
        if el.tag not in _CONNECTIVES:
            arg_of(el)  # raises the right error
        args = tuple(arg_of(c) for c in el.content())
        kind, k = el.tag, None
        if not args:
            raise el.error(f"gate '{name}' has no inputs")
        if kind in ("not",) and len(args) != 1:
            raise el.error(f"gate '{name}': <not> takes exactly one input, found {len(args)}")
        if kind in ("xor", "iff", "imply") and len(args) != 2:
            raise el.error(f"gate '{name}': <{kind}> takes exactly two inputs, found {len(args)}")
        if kind == "atleast":
            k = _int_attr(el, "min")
            if k is None or k < 1:
                raise el.error(f"gate '{name}': <atleast> needs min = a positive integer, "
                               f"got {el.attrs.get('min')!r}")
            if k > len(args):
                raise el.error(f"gate '{name}': at least {k} of {len(args)} inputs can never happen",
                               hint=f"min must be at most the number of inputs ({len(args)})")
        if kind == "cardinality":
            gates[gname] = _cardinality(el, name, gname, args, fresh, constants)
            return
        if kind == "iff":
            gates[gname] = Gate(gname, "not", (fresh("xor", args),))
            return
        if kind == "imply":
            gates[gname] = Gate(gname, "or", (fresh("not", (args[0],)), args[1]))
            return
        gates[gname] = Gate(gname, kind, args, k)

    make(name, formula)


def _cardinality(el: Element, name: str, gname: str, args: tuple[Arg, ...],
                 fresh: Callable[..., Arg], constants: dict[str, bool]) -> Gate:
    """`<cardinality min max>`: between min and max of the inputs occur, as
    ``atleast(min) and not atleast(max + 1)`` (either side left out when it always holds);
    `fresh(kind, args, k)` makes the inner gates."""
    n = len(args)
    bounds = []
    for attr in ("min", "max"):
        value = _int_attr(el, attr)
        if value is None or value < 0:
            raise el.error(f"gate '{name}': <cardinality> needs {attr} = a non-negative integer, "
                           f"got {el.attrs.get(attr)!r}")
        bounds.append(value)
    lo, hi = bounds
    if lo > hi:
        raise el.error(f"gate '{name}': <cardinality> min {lo} is larger than max {hi}",
                       hint="min and max bound the number of inputs that occur; min <= max")
    if lo > n:
        raise el.error(f"gate '{name}': at least {lo} of {n} inputs can never happen",
                       hint=f"min must be at most the number of inputs ({n})")

    parts = []
    if lo >= 1:
        parts.append(fresh("atleast", args, lo))
    if hi < n:
        parts.append(fresh("not", (fresh("atleast", args, hi + 1),)))
    if not parts:  # 0 <= count <= n: always true
        constants["true"] = True
        parts.append(Arg("house", "true"))
    return Gate(gname, "and", tuple(parts)) if len(parts) > 1 else Gate(gname, "null", (parts[0],))


def _reference(defs: _Definitions, el: Element) -> Arg:
    name = el.name()
    if name not in defs.names and "." in name:
        name = name.rsplit(".", 1)[1]  # a path into a fault tree or component: names are global here
    kinds = {"gate": defs.gates, "basic-event": defs.basic, "house-event": defs.house}
    if el.tag == "event":
        for tag, table in kinds.items():
            if name in table:
                return _event_arg(defs, _ARG_KIND[tag], name)
    elif name in kinds[el.tag]:
        return _event_arg(defs, _ARG_KIND[el.tag], name)
    elif name in defs.names:
        other = defs.names[name]
        raise el.error(f"'{name}' is referenced as a {el.tag} but is defined as <{other.tag}> "
                       f"at {other.file}:{other.line}")
    elif el.tag == "basic-event":
        # MEF lets a basic event be used without a definition; give it no probability.
        defs.basic[name] = Element("define-basic-event", {"name": name}, el.file, el.line, el.column)
        defs.names[name] = defs.basic[name]
        return Arg("basic", name)
    pool = defs.names if el.tag == "event" else kinds[el.tag]
    raise el.error(f"{el.tag} '{name}' is not defined",
                   hint=did_you_mean(name, pool) or f"add a <define-{el.tag if el.tag != 'event' else 'gate'}"
                   f" name=\"{name}\">")


_ARG_KIND = {"gate": "gate", "basic-event": "basic", "house-event": "house"}


def _event_arg(defs: _Definitions, kind: ArgKind, name: str) -> Arg:
    """The input for a defined event: a CCF group's member is the gate of its independent and
    common-cause failures (`_expand_ccf_group`)."""
    return Arg("gate" if kind == "basic" and name in defs.ccf_members else kind, name)


def _int_attr(el: Element, attr: str) -> int | None:
    """The integer value of attribute `attr`, or None when it is missing or not an integer."""
    raw = el.attrs.get(attr)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _bool_attr(el: Element) -> bool:
    value = el.attrs.get("value", "").strip().lower()
    if value not in ("true", "false"):
        raise el.error(f"value must be true or false, got {value!r}")
    return value == "true"


def _house_value(el: Element) -> bool:
    content = el.content()
    if not content:
        return False
    if content[0].tag not in ("constant", "bool"):
        raise content[0].error("a house event's value is <constant value=\"true|false\"/>")
    return _bool_attr(content[0])


def _basic_probability(defs: _Definitions, el: Element, mission_time_h: float) -> float | None:
    content = el.content()
    if not content:
        return None
    if len(content) > 1:
        raise el.error(f"basic event '{el.name()}' holds {len(content)} expressions; give one")
    value = _evaluate(defs, content[0], mission_time_h, ())
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise el.error(f"basic event '{el.name()}': probability {value:g} is outside [0, 1]",
                       hint="a probability is between 0 and 1")
    return value


def _evaluate(defs: _Definitions, el: Element, mission_time_h: float, chain: tuple[str, ...]) -> float:
    """Value of a (simple) MEF expression."""
    tag = el.tag

    def args(n: int | None = None) -> list[float]:
        kids = el.content()
        if n is not None and len(kids) != n:
            raise el.error(f"<{tag}> takes {n} argument(s), found {len(kids)}")
        if not kids:
            raise el.error(f"<{tag}> needs arguments")
        return [_evaluate(defs, k, mission_time_h, chain) for k in kids]

    if tag in ("float", "int"):
        raw = el.attrs.get("value")
        try:
            return float(raw) if tag == "float" else float(int(raw or ""))
        except (TypeError, ValueError):
            raise el.error(f"value {raw!r} is not a number") from None
    if tag == "parameter":
        name = el.name()
        if name in chain:
            raise el.error("parameters refer to each other in a loop: " + " -> ".join((*chain, name)))
        define = defs.parameters.get(name)
        if define is None:
            raise el.error(f"parameter '{name}' is not defined",
                           hint=did_you_mean(name, defs.parameters) or "add a <define-parameter>")
        kids = define.content()
        if len(kids) != 1:
            raise define.error(f"parameter '{name}' must hold exactly one expression")
        return _evaluate(defs, kids[0], mission_time_h, (*chain, name))
    if tag in ("system-mission-time", "mission-time"):
        return mission_time_h
    if tag == "add":
        return math.fsum(args())
    if tag == "mul":
        return math.prod(args())
    if tag == "sub":
        values = args()
        return values[0] - math.fsum(values[1:])
    if tag == "div":
        values = args()
        out = values[0]
        for v in values[1:]:
            if v == 0:
                raise el.error("division by zero")
            out /= v
        return out
    if tag == "neg":
        return -args(1)[0]
    if tag == "exponential":
        rate, time_h = args(2)
        return -math.expm1(-rate * time_h)
    raise el.error("unsupported expression for a probability",
                   hint="use <float value=...>, a <parameter>, add/sub/mul/div/neg or <exponential>")


# ------------------------------------------------------------------------------------------
# Writing

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def mef_identifier(name: str, taken: set[str]) -> str:
    """A MEF-safe identifier for `name` (NCName, no dots, no double dashes), unique in `taken`."""
    ident = _SAFE.sub("_", name)
    ident = re.sub("-{2,}", "-", ident).strip("-") or "_"
    if not (ident[0].isalpha() or ident[0] == "_"):
        ident = "_" + ident
    base, i = ident, 2
    while ident in taken:
        ident = f"{base}_{i}"
        i += 1
    taken.add(ident)
    return ident


def write_mef(tree: FaultTree, gate_suffix: str = "") -> str:
    """The fault tree as an Open-PSA MEF document (text). Names are made MEF-safe; originals go in
    `<label>`s. Only gates and events under the top gate are written."""
    gates, events = tree.reachable()
    houses = sorted({a.name for g in gates for a in tree.gates[g].args if a.kind == "house"})
    taken: set[str] = set()
    event_ids = {e: mef_identifier(e, taken) for e in events}
    house_ids = {h: mef_identifier(h, taken) for h in houses}
    gate_ids = {g: mef_identifier(g + gate_suffix, taken) for g in gates}
    ids = {"gate": gate_ids, "basic": event_ids, "house": house_ids}
    tag = {"gate": "gate", "basic": "basic-event", "house": "house-event"}

    def ref(arg: Arg) -> str:
        return f"<{tag[arg.kind]} name={quoteattr(ids[arg.kind][arg.name])}/>"

    def label(original: str, ident: str) -> str:
        text = tree.labels.get(original, original)
        return f"<label>{escape(text)}</label>" if text != ident else ""

    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<opsa-mef>",
           f"  <define-fault-tree name={quoteattr(mef_identifier(tree.name, set()))}>"]
    for g in gates:
        gate = tree.gates[g]
        refs = "".join(ref(a) for a in gate.args)
        if gate.kind == "null":
            formula = refs
        elif gate.kind == "atleast":
            formula = f'<atleast min="{gate.k}">{refs}</atleast>'
        else:
            formula = f"<{gate.kind}>{refs}</{gate.kind}>"
        out.append(f"    <define-gate name={quoteattr(gate_ids[g])}>{label(g, gate_ids[g])}{formula}"
                   "</define-gate>")
    out.append("  </define-fault-tree>")
    out.append("  <model-data>")
    for e in events:
        p = tree.basic_events.get(e)
        value = f"<float value=\"{float(p)!r}\"/>" if p is not None else ""
        out.append(f"    <define-basic-event name={quoteattr(event_ids[e])}>{label(e, event_ids[e])}"
                   f"{value}</define-basic-event>")
    for h in houses:
        value = "true" if tree.house_events[h] else "false"
        out.append(f"    <define-house-event name={quoteattr(house_ids[h])}><constant value=\"{value}\"/>"
                   "</define-house-event>")
    out.append("  </model-data>")
    out.append("</opsa-mef>")
    return "\n".join(out) + "\n"
