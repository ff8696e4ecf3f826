"""Recognising secrets, so that no importer ever copies one into a model or a report.

Importers copy only a short list of harmless attributes (names, regions, zones, types); this is
the second line of defence: any key or value that looks like a credential is dropped.
"""

from __future__ import annotations

import re
from typing import Any

SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|"
    r"auth|connection[_-]?string|conn[_-]?str|dsn|cert(ificate)?|signature|session|cookie|salt",
    re.IGNORECASE,
)
_SECRET_VALUE = (
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^@\s]+@", re.IGNORECASE),  # URL with credentials
    re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)"),
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]+)"),
    re.compile(r"(password|pwd|secret|token)=[^;&\s]+", re.IGNORECASE),
    re.compile(r"^[A-Za-z0-9+/=_-]{40,}$"),  # long opaque blob
)


def looks_secret(key: str, value: Any) -> bool:
    """Whether a key/value pair could hold a credential (then it must not be copied)."""
    if SECRET_KEY.search(key):
        return True
    return isinstance(value, str) and any(p.search(value) for p in _SECRET_VALUE)


def scrub_tags(tags: dict[str, Any]) -> dict[str, Any]:
    """`tags` without any entry whose value looks like a secret (keys are ours, values not)."""
    return {k: v for k, v in tags.items() if not (isinstance(v, str) and looks_secret("", v))}
