"""aftershock: how an outage in a dependency cascades, what it costs, and what would have stopped it."""

from aftershock.errors import AftershockError, ModelError
from aftershock.model.compile import CompiledGraph, compile_model
from aftershock.model.load import load_model, load_model_text

__version__ = "0.1.0"



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
