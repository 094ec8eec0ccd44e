"""channelae: autoencoders as communication links.

Data flows one way: dataset -> transmitter (encoder) -> channel -> receiver (decoder) -> metrics -> report.

The main objects are importable from the package itself::

    import channelae

    cfg = channelae.SimulationConfig(channel="awgn+pgd-jammer", eps=(0.0, 0.5), n_images=16)
    results = channelae.simulate(cfg, "results/mine", checkpoint="path/to/checkpoint")
    res = channelae.load_results("results/mine")
    model, meta = channelae.load_checkpoint("path/to/checkpoint")
    link = channelae.Link.from_checkpoint("path/to/checkpoint", "rayleigh+awgn")

=====================  ===========================================================================
``Link``               the whole link, ``Transmitter`` → channel → ``Receiver`` (:mod:`channelae.link`)
``Transmitter``        encoder + power normalisation to complex symbols
``Receiver``           equaliser + decoder
``build_channel``      a channel from a spec such as ``"rayleigh+pgd-jammer+awgn"``
``load_checkpoint``    a trained model and its metadata (:mod:`channelae.checkpoint`)
``SimulationConfig``   what a simulation computes (:mod:`channelae.simulate`)
``simulate``           run a simulation: ``channelae.simulate(config, out, ...)`` (see below)
``load_results``       read a results folder written by ``simulate`` (:func:`channelae.results.load`)
``Results``            what ``load_results`` returns
``UsageError``         raised for user mistakes (a ``ValueError``)
=====================  ===========================================================================

They are imported on first access (PEP 562), so ``import channelae`` imports no torch and stays fast; heavy
modules (torch, Sionna, LPIPS, plotting) load with the first object that needs them.

``channelae.simulate`` is the module :mod:`channelae.simulate` and is also callable: ``channelae.simulate(...)``
calls :func:`channelae.simulate.simulate` (a module attribute of that name could not stay a function, since
importing the submodule sets it).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from channelae.channels import build_channel
    from channelae.checkpoint import load_checkpoint
    from channelae.errors import UsageError
    from channelae.link import Link, Receiver, Transmitter
    from channelae.results import Results
    from channelae.results import load as load_results
    from channelae.simulate import SimulationConfig

__all__ = [
    "Link",
    "Receiver",
    "Results",
    "SimulationConfig",
    "Transmitter",
    "UsageError",
    "__version__",
    "build_channel",
    "load_checkpoint",
    "load_results",
    "simulate",
]

#: exported name -> (module, attribute); ``simulate`` is the (callable) submodule itself.
_LAZY: dict[str, tuple[str, str | None]] = {
    "Link": ("channelae.link", "Link"),
    "Receiver": ("channelae.link", "Receiver"),
    "Transmitter": ("channelae.link", "Transmitter"),
    "Results": ("channelae.results", "Results"),
    "SimulationConfig": ("channelae.simulate", "SimulationConfig"),
    "UsageError": ("channelae.errors", "UsageError"),
    "build_channel": ("channelae.channels", "build_channel"),
    "load_checkpoint": ("channelae.checkpoint", "load_checkpoint"),
    "load_results": ("channelae.results", "load"),
    "simulate": ("channelae.simulate", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _CallableModule(types.ModuleType):
    """:mod:`channelae.simulate`, callable as its ``simulate`` function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.simulate(*args, **kwargs)


class _Package(types.ModuleType):
    """The ``channelae`` package: makes the ``simulate`` submodule callable however it gets imported (the
    import system sets it as an attribute of the package)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "simulate" and type(value) is types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
