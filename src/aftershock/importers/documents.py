"""Reading importer inputs safely: multi-document YAML and JSON, with line numbers, and partial
reads that keep the documents before a syntax error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aftershock.errors import AftershockError
from aftershock.model.source import MAX_FILE_BYTES, Document, _check_expansion

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ImportError_(AftershockError):
    """An input file that cannot be imported at all."""


@dataclass
class ReadResult:
    """The documents read from one file, and the syntax error that stopped reading, if any."""

    documents: list[Document]
    error: AftershockError | None = None


def read_text(path: str | Path) -> str:
    """The text of an input file (UTF-8, size-limited); a located error otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ImportError_("file not found" if not p.exists() else "not a file", file=str(path))
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportError_(f"file is {size} bytes, over the limit of {MAX_FILE_BYTES}", file=str(path))
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportError_(f"not UTF-8 text ({exc.reason})", file=str(path)) from None


def read_yaml_documents(path: str, text: str) -> ReadResult:
    """Every YAML document of `text` with its node tree (for line numbers), stopping at an error.

    Documents before a syntax error are kept, so a damaged file still imports what it can.
    """
    docs: list[Document] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            _check_expansion(path, data)
            if data is not None:
                docs.append(Document(path=path, text=text, data=data, _root=node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        err = AftershockError(
            f"YAML syntax error: {exc.problem or exc.context}",
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="documents before this point were imported",
        )
        return ReadResult(docs, err)
    except yaml.YAMLError as exc:
        return ReadResult(docs, AftershockError(f"YAML error: {exc}", file=path))
    finally:
        loader.dispose()
    return ReadResult(docs)


def read_json_lines(path: str, text: str) -> ReadResult:
    """A JSON document, or JSON Lines (one document a line, as OTLP file exporters write them).

    A line that is not valid JSON stops nothing: it is reported and the other lines are read.
    """
    try:
        return ReadResult([Document(path=path, text=text, data=json.loads(text))])
    except json.JSONDecodeError as whole:
        lines = [ln for ln in text.splitlines()]
        if sum(1 for ln in lines if ln.strip()) <= 1:
            return ReadResult([], _json_error(path, whole))
    docs: list[Document] = []
    error: AftershockError | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            error = error or AftershockError(
                f"JSON syntax error: {exc.msg}", file=path, line=number, column=exc.colno,
                hint="the other lines were imported",
            )
            continue
        docs.append(_LineDocument(path=path, text=line, data=data, line=number))
    return ReadResult(docs, error)


def _json_error(path: str, exc: json.JSONDecodeError) -> AftershockError:
    return AftershockError(f"JSON syntax error: {exc.msg}", file=path, line=exc.lineno, column=exc.colno)


class _LineDocument(Document):
    """A JSON Lines record: locations are its line in the file."""

    def __init__(self, path: str, text: str, data: Any, line: int) -> None:
        super().__init__(path=path, text=text, data=data)
        self.line = line

    def locate(self, keys: tuple[Any, ...]) -> tuple[int | None, int | None]:
        return self.line, None
