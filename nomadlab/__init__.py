"""nomadlab: learn to deploy microservices with HashiCorp Nomad from Jupyter.

``lab = nomadlab.start()`` gives a working agent in any of three modes: attached to
``NOMAD_ADDR``, a real ``nomad agent -dev``, or the bundled practice agent.
Imports are lazy so that ``python -m nomadlab.echo`` (a task) starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "start": ("nomadlab.magic", "start"),
    "Lab": ("nomadlab.lab", "Lab"),
    "watch": ("nomadlab.lab", "watch"),
    "check": ("nomadlab.exercises", "check"),
    "checkpoint": ("nomadlab.exercises", "checkpoint"),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'nomadlab' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    import importlib

    return getattr(importlib.import_module(module_name), attribute)


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext nomadlab``: the ``%nomad`` line magic (see :mod:`nomadlab.magic`)."""
    from nomadlab.magic import load_ipython_extension as load

    load(ipython)


__all__ = ["Lab", "__version__", "check", "checkpoint", "start", "watch"]
