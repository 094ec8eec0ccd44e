"""One tiny registry class used for data sets, models, channels and metrics.

Adding a component means one new file with ``@REGISTRY.register("name")`` on it and one import line in the
package's ``__init__``; lookups of unknown names raise a :class:`~channelae.errors.UsageError` that lists
what is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from channelae.errors import UsageError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object mapping with a decorator to register and a ``get`` that explains failures.

    :param kind: what is registered, for messages (e.g. ``"model"``).
    :param argument: the CLI option that selects it (e.g. ``"--model"``), for messages.
    """

    def __init__(self, kind: str, argument: str) -> None:
        self.kind = kind
        self.argument = argument
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (names are unique)."""

        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without a decorator."""
        return self.register(name)(obj)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names raise ``UsageError``."""
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}", self.argument
            ) from None

    def unregister(self, name: str) -> None:
        """Remove ``name`` (no error if it is not registered); for plugins and tests."""
        self._items.pop(name, None)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
