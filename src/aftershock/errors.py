"""Errors a user can cause: each names the file, line, column and thing at fault, with a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AftershockError(Exception):
    """An error caused by the user's input; the CLI prints it in a line or two and exits 2."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        component: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.component = component
        self.hint = hint

    @property
    def location(self) -> str:
        """`file:line:column`, as much of it as is known; empty for a command-line option."""
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        what = f"component '{self.component}': " if self.component else ""
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{what}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form of the error."""
        return {
            "error": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "component": self.component,
            "hint": self.hint,
        }


class ModelError(AftershockError):
    """A model file is not valid."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt key or name, or None when nothing is close."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=3, cutoff=0.6)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"
