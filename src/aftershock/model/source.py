"""Reading YAML/JSON documents safely, and finding where in the file a value came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aftershock.errors import ModelError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EXPANDED_NODES = 5_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """One parsed file: its data and, built on demand, the YAML node tree that locates its values."""

    path: str
    text: str
    data: Any
    _root: yaml.Node | None = field(default=None, repr=False)

    def locate(self, keys: tuple[Any, ...]) -> tuple[int | None, int | None]:
        """1-based (line, column) of the value at `keys` (mapping keys and list indices), best effort.

        When the full path does not exist (a missing key) the deepest existing parent is given.
        """
        if self._root is None:
            try:
                self._root = yaml.compose(self.text, Loader=_Loader)
            except yaml.YAMLError:
                return None, None
        node = self._root
        if node is None:
            return 1, 1
        for key in keys:
            child = _child(node, key)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1, node.start_mark.column + 1

    def locate_key(self, keys: tuple[Any, ...]) -> tuple[int | None, int | None]:
        """(line, column) of the mapping *key* at the end of `keys` (for unknown-key errors)."""
        parent_keys, last = keys[:-1], keys[-1] if keys else None
        self.locate(())  # builds the node tree
        node = self._root
        for key in parent_keys:
            child = _child(node, key) if node is not None else None
            if child is None:
                return self.locate(keys)
            node = child
        if isinstance(node, yaml.MappingNode):
            for k, _ in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(last):
                    return k.start_mark.line + 1, k.start_mark.column + 1
        return self.locate(keys)


def _child(node: yaml.Node, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    elif (
        isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value)
    ):
        return node.value[key]
    return None


def read_document(path: str | Path, *, text: str | None = None) -> Document:
    """Parse a YAML or JSON file safely: size limit, no arbitrary objects, no alias bombs."""
    path = str(path)
    if text is None:
        p = Path(path)
        if not p.exists():
            raise ModelError(
                "file not found", file=path, hint="check the path and the current directory"
            )
        if p.is_dir():
            raise ModelError("is a directory, not a model file", file=path)
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelError(
                f"file is {size} bytes, over the limit of {MAX_FILE_BYTES}",
                file=path,
                hint="split the model with `include:`",
            )
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ModelError(f"not UTF-8 text ({exc.reason})", file=path) from None
    elif len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise ModelError(f"document is over the limit of {MAX_FILE_BYTES} bytes", file=path)
    if not text.strip():
        raise ModelError("the file is empty", file=path, hint="a model starts with `version: 1`")
    data = _parse(path, text)
    if not path.endswith(".json"):  # JSON has no aliases to expand
        _check_expansion(path, data)
    return Document(path=path, text=text, data=data)


def _parse(path: str, text: str) -> Any:
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"JSON syntax error: {exc.msg}", file=path, line=exc.lineno, column=exc.colno
            ) from None
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ModelError(
            f"YAML syntax error: {exc.problem or exc.context}",
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="check indentation and quoting near this line",
        ) from None
    except yaml.YAMLError as exc:
        raise ModelError(f"YAML error: {exc}", file=path) from None
    docs = [d for d in docs if d is not None]
    if not docs:
        raise ModelError(
            "the file holds no document", file=path, hint="a model starts with `version: 1`"
        )
    if len(docs) > 1:
        raise ModelError("the file holds several YAML documents; a model is one", file=path)
    return docs[0]


def _check_expansion(path: str, data: Any) -> None:
    """Refuse documents whose aliases expand to more nodes than any real model has."""
    sizes: dict[int, int] = {}

    def size(obj: Any) -> int:
        if not isinstance(obj, dict | list):
            return 1
        key = id(obj)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # guards against recursive aliases
        children = obj.values() if isinstance(obj, dict) else obj
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                break
        sizes[key] = total
        return total

    if size(data) > MAX_EXPANDED_NODES:
        raise ModelError(
            f"the document expands to more than {MAX_EXPANDED_NODES} values (YAML aliases?)",
            file=path,
            hint="aliases that nest other aliases multiply; write the values out",
        )
