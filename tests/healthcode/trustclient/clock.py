"""A clock the trust-list client tests set by hand."""

from __future__ import annotations


class Clock:
    """A settable clock for the client (no sleeping to make time pass)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
