"""Load a model file (and its includes) into a validated `Model`, with located errors."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aftershock.errors import ModelError, did_you_mean
from aftershock.model.durations import DURATION_HINT
from aftershock.model.schema import KINDS, CommonCause, Component, ModelFile
from aftershock.model.source import Document, read_document


@dataclass(frozen=True)
class Origin:
    """Where a component was written: its document and the key path of its mapping."""

    document: Document
    keys: tuple[Any, ...]


@dataclass
class Model:
    """A validated model: every component, every name resolved."""

    name: str
    path: str
    components: dict[str, Component]
    origins: dict[str, Origin] = field(default_factory=dict)
    description: str | None = None
    common_causes: dict[str, CommonCause] = field(default_factory=dict)
    cause_origins: dict[str, Origin] = field(default_factory=dict)

    def locate(
        self, component: str, keys: tuple[Any, ...] = ()
    ) -> tuple[str | None, int | None, int | None]:
        """(file, line, column) of `keys` inside a component's definition."""
        origin = self.origins.get(component)
        if origin is None:
            return self.path, None, None
        line, column = origin.document.locate(origin.keys + keys)
        return origin.document.path, line, column

    def error(
        self, message: str, component: str, keys: tuple[Any, ...] = (), hint: str | None = None
    ) -> ModelError:
        """A located error about one component (raise it)."""
        file, line, column = self.locate(component, keys)
        return ModelError(
            message, file=file, line=line, column=column, component=component, hint=hint
        )


def load_model(path: str | Path) -> Model:
    """Read, validate and resolve a model file and everything it includes."""
    root = read_document(path)
    return _build(root)


def load_model_text(text: str, path: str = "<string>") -> Model:
    """Validate a model given as YAML/JSON text (includes resolve relative to the current folder)."""
    return _build(read_document(path, text=text))


def _build(root: Document) -> Model:
    root_file = _validate(root)
    components: dict[str, Component] = {}
    origins: dict[str, Origin] = {}
    causes: dict[str, CommonCause] = {}
    cause_origins: dict[str, Origin] = {}
    _collect(
        root, root_file, components, origins, causes, cause_origins, chain=(_realpath(root.path),)
    )
    model = Model(
        name=root_file.name or Path(root.path).stem,
        path=root.path,
        components=components,
        origins=origins,
        description=root_file.description,
        common_causes=causes,
        cause_origins=cause_origins,
    )
    from aftershock.catalog.providers import expand_model_references  # provider:service@region

    expand_model_references(model)
    _check_references(model)
    return model


def _realpath(path: str) -> str:
    return str(Path(path).resolve()) if not path.startswith("<") else path


def _collect(
    doc: Document,
    file: ModelFile,
    components: dict[str, Component],
    origins: dict[str, Origin],
    causes: dict[str, CommonCause],
    cause_origins: dict[str, Origin],
    chain: tuple[str, ...],
) -> None:
    for name, cause in file.common_causes.items():
        _register(doc, "common_causes", name, cause, causes, cause_origins, "common cause")
    for name, component in file.components.items():
        _register(doc, "components", name, component, components, origins, "component")
    base = Path(doc.path).parent if not doc.path.startswith("<") else Path.cwd()
    for i, rel in enumerate(file.include):
        line, col = doc.locate(("include", i))
        target = (base / rel).resolve()
        if str(target) in chain:
            raise ModelError(
                f"include '{rel}' includes itself (through {' -> '.join(Path(c).name for c in chain)})",
                file=doc.path,
                line=line,
                column=col,
                hint="remove the include that closes the loop",
            )
        if not target.is_file():
            raise ModelError(
                f"included file '{rel}' not found (looked for {target})",
                file=doc.path,
                line=line,
                column=col,
                hint="include paths are relative to the file that includes them",
            )
        child = read_document(target)
        _collect(
            child,
            _validate(child),
            components,
            origins,
            causes,
            cause_origins,
            (*chain, str(target)),
        )


def _register(
    doc: Document,
    section: str,
    name: str,
    value: Any,
    table: dict[str, Any],
    origins: dict[str, Origin],
    what: str,
) -> None:
    """Add one named entry of `section`; a name already taken in any file is a located error."""
    if name in table:
        first = origins[name].document
        line, _ = first.locate(origins[name].keys)
        here_line, here_col = doc.locate_key((section, name))
        raise ModelError(
            f"{what} is defined twice (first in {first.path}:{line})",
            file=doc.path,
            line=here_line,
            column=here_col,
            component=name if section == "components" else None,
            hint=f"{what} names are global across included files; rename one",
        )
    table[name] = value
    origins[name] = Origin(doc, (section, name))


def _validate(doc: Document) -> ModelFile:
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise ModelError(
            f"a model is a mapping with `version` and `components`, but this document is a {kind}",
            file=doc.path,
            line=1,
            column=1,
            hint="start the file with `version: 1` and a `components:` mapping",
        )
    if "version" in doc.data and doc.data["version"] != 1:
        line, col = doc.locate(("version",))
        raise ModelError(
            f"unsupported model version {doc.data['version']!r}",
            file=doc.path,
            line=line,
            column=col,
            hint="this aftershock reads `version: 1`",
        )
    try:
        return ModelFile.model_validate(doc.data)
    except ValidationError as exc:
        raise _located(doc, exc) from None


def _located(doc: Document, exc: ValidationError) -> ModelError:
    """Turn pydantic's first error into one located message with a hint."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    component = str(loc[1]) if len(loc) > 1 and loc[0] == "components" else None
    where = ".".join(str(p) for p in (loc[2:] if component else loc))
    msg = str(err["msg"]).removeprefix("Value error, ")
    hint: str | None = None
    kind = err["type"]
    if kind == "extra_forbidden":
        line, col = doc.locate_key(loc)
        allowed = _fields_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed) or (
            "allowed keys here: " + ", ".join(allowed) if allowed else None
        )
        message = f"unknown key '{loc[-1]}'"
    else:
        line, col = doc.locate(loc) if kind != "missing" else doc.locate(loc[:-1])
        if kind == "missing":
            message = f"missing required key '{loc[-1]}'"
        elif kind == "literal_error" and loc and loc[-1] == "kind":
            message = f"unknown kind {err['input']!r}"
            hint = did_you_mean(str(err["input"]), KINDS) or "kinds: " + ", ".join(KINDS)
        else:
            message = f"{where}: {msg}" if where else msg
            if "duration" in msg:
                hint = DURATION_HINT
            elif "k_of_n" in msg:
                hint = "k counts how many members must be up; it cannot exceed the members listed"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return ModelError(message, file=doc.path, line=line, column=col, component=component, hint=hint)


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed at a key path of a model file (for did-you-mean on unknown keys)."""
    tp: Any = ModelFile
    for key in loc:
        tp = _branch(_unwrap(tp), key)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(key))
            if info is None:
                return []
            tp = info.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _branch(_unwrap(tp), None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _branch(tp: Any, key: Any) -> Any:
    """The member of a union (one mapping or a list of them) that `key` goes into."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return tp
    for arg in map(_unwrap, typing.get_args(tp)):
        if (typing.get_origin(arg) in (list, tuple)) == isinstance(key, int):
            return arg
    return tp


def _unwrap(tp: Any) -> Any:
    """Strip Optional[...] and Annotated[...] from a type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _check_references(model: Model) -> None:
    names = model.components
    for cause, origin in model.cause_origins.items():
        if cause in names:
            line, column = origin.document.locate_key(origin.keys)
            raise ModelError(
                f"common cause '{cause}' has the name of a component",
                file=origin.document.path,
                line=line,
                column=column,
                hint="give the event its own name, e.g. 'aws-us-east-1-outage'",
            )
    for name, component in names.items():
        for keys, ref in component.references():
            if ref not in names:
                raise model.error(
                    f"unknown component '{ref}' in {keys[0]}",
                    name,
                    keys,
                    hint=did_you_mean(ref, names)
                    or "define it under `components:` or fix the name",
                )
        for group_key, members in (
            ("any_of", component.any_of or []),
            ("k_of_n", _k_members(component)),
        ):
            seen: set[str] = set()
            for i, member in enumerate(members):
                if member in seen:
                    keys = (group_key, i) if group_key == "any_of" else ("k_of_n", "of", i)
                    raise model.error(
                        f"'{member}' is listed twice in {group_key}",
                        name,
                        keys,
                        hint="each member of a redundancy group counts once",
                    )
                seen.add(member)
        if component.resolves is not None and names[component.resolves].kind != "dns_record":
            raise model.error(
                f"resolves '{component.resolves}', which is not a dns_record",
                name,
                ("resolves",),
                hint="`resolves` names the component of kind dns_record it looks up",
            )
        if component.kind == "dns_record" and component.record is None:
            raise model.error(
                "a dns_record needs `record:` (the DNS name)",
                name,
                hint="for example record: api.example.com",
            )
        if component.kind != "dns_record":
            for key in ("record", "ttl", "negative_ttl", "serve_stale"):
                if getattr(component, key) is not None:
                    raise model.error(
                        f"`{key}` only applies to a component of kind dns_record",
                        name,
                        (key,),
                        hint="set `kind: dns_record`, or move the key to the record",
                    )


def _k_members(component: Component) -> list[str]:
    return component.k_of_n.of if component.k_of_n is not None else []
