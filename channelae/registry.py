"""One tiny registry class used for data sets, models, channels and metrics.

A registry maps names to objects. Built-in components are declared *lazily*, so that their names are known
(for ``channelae list``, ``--help`` and usage errors) without importing their implementations (torch and
friends take seconds)::

    CHANNELS.register_lazy("awgn", "channelae.channels.awgn:AWGN")   # in the package's __init__

and the implementing module is imported on the first :meth:`Registry.get` of that name. The module may
register itself with the usual decorator (``@CHANNELS.register("awgn")`` on the class): when the lazily
declared module registers the name it was declared for, that is the same entry, not a conflict. Plugins and
user code register eagerly with the decorator (or :meth:`Registry.add`).

Adding a built-in component therefore means one new file (with the decorator on it, or not) and one
``register_lazy`` line in the package's ``__init__``. Lookups of unknown names raise a
:class:`~channelae.errors.UsageError` that suggests the closest name and lists what is registered.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from channelae.errors import UsageError

__all__ = ["DuplicateNameError", "Registry"]

T = TypeVar("T")


class DuplicateNameError(ValueError):
    """A name registered (or declared) twice for different objects."""


@dataclass(frozen=True)
class _Lazy:
    """A name declared for ``module`` (attribute ``attr``), not imported yet."""

    module: str
    attr: str | None

    @property
    def target(self) -> str:
        return f"{self.module}:{self.attr}" if self.attr else self.module


class Registry(Generic[T]):
    """Name -> object mapping with lazy declarations, a decorator to register, and a ``get`` that explains
    failures.

    :param kind: what is registered, for messages (e.g. ``"model"``).
    :param argument: the CLI option that selects it (e.g. ``"--model"``), for messages.
    """

    def __init__(self, kind: str, argument: str) -> None:
        self.kind = kind
        self.argument = argument
        # name -> object, or _Lazy for a declared name whose module is not imported yet (insertion order kept)
        self._items: dict[str, Any] = {}

    def register_lazy(self, name: str, target: str) -> None:
        """Declare ``name`` without importing its implementation.

        :param target: ``"package.module:attr"`` (the object is ``attr`` of the module, unless importing the
            module registers ``name`` itself, which must then be that same object) or ``"package.module"``
            (importing the module must register ``name``, e.g. through a decorator).
        :raises DuplicateNameError: when ``name`` is already registered or declared for something else.
        """
        module, _, attr = target.partition(":")
        if not module:
            raise ValueError(f"target {target!r} must look like 'package.module' or 'package.module:attr'")
        entry = _Lazy(module, attr or None)
        current = self._items.get(name)
        if current is not None and current != entry:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
        self._items[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (names are unique).

        A name declared with :meth:`register_lazy` may only be registered by the module it was declared for
        (which happens when that module is imported).

        :raises DuplicateNameError: when ``name`` is already taken by another object.
        """

        def deco(obj: T) -> T:
            current = self._items.get(name)
            if isinstance(current, _Lazy):
                if current.module not in sys.modules:  # not the declared module registering itself
                    raise DuplicateNameError(f"{self.kind} {name!r} is already registered (by {current.target})")
            elif name in self._items and current is not obj:
                raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without a decorator."""
        return self.register(name)(obj)

    def check(self, name: str, where: str = "") -> str:
        """Return ``name`` if it is registered or declared (nothing is imported); else raise ``UsageError``.

        :param where: context for the message, e.g. ``" (stage 2 of 'awgn+foo')"``.
        """
        if name not in self._items:
            raise self.unknown(name, where)
        return name

    def unknown(self, name: object, where: str = "") -> UsageError:
        """The error for an unknown ``name``: the closest registered name (if any is close) and all of them."""
        names = self.names()
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
        allowed = f"allowed: {', '.join(names)}" if names else f"no {self.kind} is registered"
        hint = f"did you mean {lowered[close[0]]!r}? " if close else ""
        return UsageError(f"unknown {self.kind} {name!r}{where}; {hint}{allowed}", self.argument)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``, importing its module if it was declared lazily.

        :raises UsageError: for an unknown name (closest match suggested, registered names listed).
        """
        try:
            obj = self._items[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None
        if isinstance(obj, _Lazy):
            obj = self._resolve(name, obj)
        return obj

    def _resolve(self, name: str, lazy: _Lazy) -> T:
        module = importlib.import_module(lazy.module)
        obj = self._items.get(name, lazy)
        if isinstance(obj, _Lazy):  # the module did not register the name itself
            if lazy.attr is None:
                raise RuntimeError(f"importing {lazy.module} did not register {self.kind} {name!r}")
            obj = getattr(module, lazy.attr)
            self._items[name] = obj
        elif lazy.attr is not None and getattr(module, lazy.attr, None) is not obj:
            raise RuntimeError(f"{self.kind} {name!r}: {lazy.module} registered {obj!r}, not {lazy.attr}")
        return obj

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` is registered with its object (``False`` for a lazy name not imported yet)."""
        return name in self._items and not isinstance(self._items[name], _Lazy)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (no error if it is not registered); for plugins and tests."""
        self._items.pop(name, None)

    def names(self) -> list[str]:
        """Registered and declared names, in registration order (nothing is imported)."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


def lazy_exports(package: str, exports: dict[str, str],
                 names: list[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` that import its public names on first use.

    :param package: the package's ``__name__``.
    :param exports: public name → module that defines it (imported when the name is first read, then cached
        in the package's namespace).
    :param names: the package's ``__all__`` (listed by ``dir()`` before they are imported).

    Usage, at the end of a package ``__init__``: ``__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS,
    __all__)``; the registry packages use it so that ``channelae list`` and the CLI's help import no torch.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
