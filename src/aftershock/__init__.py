"""aftershock: how an outage in a dependency cascades, what it costs, and what would have stopped it."""

from typing import TYPE_CHECKING, Any

from aftershock.errors import AftershockError, ModelError

if TYPE_CHECKING:
    from aftershock.model.compile import CompiledGraph, compile_model
    from aftershock.model.load import load_model, load_model_text

__version__ = "0.1.0"

# The model API is loaded on first use (PEP 562), so importing a subpackage that does not need it
# (the DNS proxy, the fault-tree engine on MEF files) does not pay for pydantic and the compiler.
_LAZY = {
    "CompiledGraph": "aftershock.model.compile",
    "compile_model": "aftershock.model.compile",
    "load_model": "aftershock.model.load",
    "load_model_text": "aftershock.model.load",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aftershock' has no attribute {name!r}")



def discover(discover_system: bool = True) -> dict:
    """Chaos Toolkit discovery (`chaos discover aftershock`): see aftershock.chaos.ctk."""
    from aftershock.chaos.ctk import discover as discover_dns_chaos

    return discover_dns_chaos(discover_system)


__all__ = [
    "AftershockError",
    "CompiledGraph",
    "ModelError",
    "__version__",
    "compile_model",
    "discover",
    "load_model",
    "load_model_text",
]
