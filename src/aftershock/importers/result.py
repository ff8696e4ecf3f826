"""What an importer produces: draft components with edges and provenance, and what it skipped."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A line number, or a function computing it (locating in a large JSON file is done only on error).
Line = int | None | Callable[[], int | None]

_INVALID = re.compile(r"[^a-z0-9._/:@-]+")


def component_name(raw: str) -> str:
    """A stable, valid component name: lower case, runs of other characters become '-'.

    A name with no usable character gets a stable stand-in derived from it.
    """
    name = _INVALID.sub("-", str(raw).strip().lower()).strip("-")
    if not name:
        name = "unnamed-" + hashlib.sha1(str(raw).encode()).hexdigest()[:8]
    return name


def source_label(fmt: str, path: str) -> str:
    """Provenance of a component: format, folder and file (`k8s:online-boutique/manifests.yaml`)."""
    p = Path(path).resolve() if not str(path).startswith("<") else Path(path)
    folder = p.parent.name
    return f"{fmt}:{folder}/{p.name}" if folder else f"{fmt}:{p.name}"


@dataclass
class Skipped:
    """Something an importer could not use, where it is and why."""

    file: str
    what: str
    why: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"file": self.file, "line": self.line, "what": self.what, "why": self.why}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: skipped {self.what}: {self.why}"


@dataclass
class Draft:
    """A component being assembled from one or more sources (names, not yet validated)."""

    name: str
    kind: str | None = None
    description: str | None = None
    requires: dict[str, str] = field(default_factory=dict)  # dependency -> evidence
    uses: dict[str, str] = field(default_factory=dict)
    any_of: list[str] | None = None
    placement: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str | int | float | bool] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    placeholder: bool = False  # referenced by a source but not defined by any
    record: str | None = None  # the DNS name, for kind dns_record
    ttl_s: float | None = None

    def depend(self, target: str, evidence: str, *, hard: bool = True) -> None:
        """Add an edge to `target` (a hard edge replaces a soft one to the same target)."""
        if not target or target == self.name:
            return
        if hard:
            self.uses.pop(target, None)
            self.requires.setdefault(target, evidence)
        elif target not in self.requires:
            self.uses.setdefault(target, evidence)


@dataclass
class ImportResult:
    """Components from one or more sources, plus what was skipped and what was assumed."""

    components: dict[str, Draft] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def draft(self, name: str, source: str, **fields: Any) -> Draft:
        """The draft named `name` (created if new), with `source` recorded as its provenance."""
        d = self.components.get(name)
        if d is None:
            d = self.components[name] = Draft(name=name)
        if d.placeholder and source:
            d.placeholder = False
        for key, value in fields.items():
            if value is not None and getattr(d, key) in (None, {}, []):
                setattr(d, key, value)
        if source and source not in d.sources:
            d.sources.append(source)
        return d

    def skip(self, file: str, what: str, why: str, line: Line = None) -> None:
        """Record something that could not be imported (`line` may be computed only now)."""
        self.skipped.append(Skipped(file, what, why, line() if callable(line) else line))

    def assume(self, text: str) -> None:
        """Record an assumption the importer made (printed with the result)."""
        if text not in self.assumptions:
            self.assumptions.append(text)

    @property
    def edge_count(self) -> int:
        """Number of requires + uses edges."""
        return sum(len(d.requires) + len(d.uses) for d in self.components.values())


@contextmanager
def malformed(result: ImportResult, file: str, what: str, line: Line = None) -> Iterator[None]:
    """Skip one entity whose structure is not what its format documents (a list where a mapping
    belongs, ...), recording it, instead of failing the whole import."""
    try:
        yield
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        result.skip(file, what, f"malformed: a value does not have the documented shape ({exc})", line)
