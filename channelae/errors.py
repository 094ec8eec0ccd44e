"""Errors that channelae raises for user mistakes.

A :class:`UsageError` is a mistake in what the user asked for (a bad argument, a missing data set, a
foreign checkpoint). The CLI prints it as one line and exits with code 2; library users catch it like any
``ValueError``.
"""

from __future__ import annotations

__all__ = ["MissingResourceError", "UsageError"]


class UsageError(ValueError):
    """A user mistake: one line that names the argument, what was wrong and what is allowed.

    :param argument: the argument or option at fault (e.g. ``"--model"``), or ``None``.
    :param message: what was wrong and what is allowed.
    """

    def __init__(self, message: str, argument: str | None = None) -> None:
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}" if argument else message)


class MissingResourceError(UsageError):
    """A data set or pretrained weight file that is not on this machine (and cannot be fetched here)."""
