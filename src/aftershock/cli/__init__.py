"""The `aftershock` command: a thin shell over the library.

Every module in this package that is not `app` adds its commands to `app` when imported, so a new
engine brings its commands in its own module without touching the others.
"""

from __future__ import annotations

import importlib
import pkgutil

from aftershock.cli.app import app, main

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "app":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["app", "main"]
