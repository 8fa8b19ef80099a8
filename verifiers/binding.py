"""Scan + tap: does the scanned code belong to the person whose ID card was read? (ADR 0014)

A valid code proves nothing about who holds it: a borrowed phone or a screenshot of a
relative's green code passes whenever staff cannot compare a face with a masked name. When the
presenter's ID card is read within `window_s` of a code scan, in either order, on the same
device or staff session, the checkpoint compares the code's `(iss, sub)` with the `(iss, sub)`
of the credential the home issuer returned for that ID number (the ordinary ID-card read,
standard §6.3: the number goes only where it already goes). Three results (standard §6.4):

- ``match``: same issuer and pseudonymous subject;
- ``mismatch``: anything else; the second read's answer becomes the error `holder_mismatch`,
  so it is shown in red words and written to the scan log like every verdict;
- ``unconfirmed``: the card read could not reach the home issuer (offline, or the home
  province unreachable), so nothing is known either way.

Only pseudonymous subjects are held, in memory, for at most `window_s`; nothing here ever sees
an ID number, and the page keeps none (it only shows what is awaited).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from healthcode.errors import ErrorCode, HealthcodeError, VerificationError
from verifiers.scan import ScanAnswer

Side = Literal["code", "card", "card_unreachable"]

#: Errors of an ID-card read that mean "the home issuer could not be asked", not "no such card".
UNREACHABLE = frozenset({ErrorCode.UNAVAILABLE_OFFLINE, ErrorCode.UPSTREAM_UNAVAILABLE})
#: At most this many reads wait for their pair (one per device or staff session).
MAX_WAITING = 10_000


@dataclass(frozen=True, slots=True)
class Waiting:
    """One read awaiting its pair: which side, whose (pseudonymous) credential, when."""

    side: Side
    holder: tuple[str, str] | None  # (iss, sub); None when the home issuer was unreachable
    at: float


class HolderBinding:
    """Pairs code scans and ID-card reads per device or staff session within a window."""

    def __init__(self, window_s: float, *, required: bool = False) -> None:
        if window_s <= 0:
            raise ValueError("the scan + tap window must be positive")
        self.window_s = window_s
        self.required = required
        self._waiting: OrderedDict[str, Waiting] = OrderedDict()
        self._lock = threading.Lock()

    def code_read(self, reader: str, answer: ScanAnswer, now: float | None = None) -> None:
        """A code was scanned by `reader`: pair it with a card read, or wait for one."""
        holder = _holder(answer)
        if holder is None:
            return  # no verified health code (an error, a SMART Health Card): nothing to pair
        self._read(reader, "code", holder, answer, now)

    def card_read(self, reader: str, answer: ScanAnswer, now: float | None = None) -> None:
        """An ID card was read and its home credential verified: pair it, or wait."""
        holder = _holder(answer)
        if holder is not None:
            self._read(reader, "card", holder, answer, now)

    def card_unreachable(
        self, reader: str, error: HealthcodeError, now: float | None = None
    ) -> dict[str, Any] | None:
        """An ID-card read failed; when the home issuer was unreachable, a waiting code ends
        as ``unconfirmed`` (returned for the error answer), else the card waits as such."""
        if error.code not in UNREACHABLE:
            return None
        at = time.time() if now is None else now
        with self._lock:
            waiting = self._take(reader, at)
            if waiting is None or waiting.side != "code":
                self._put(reader, Waiting("card_unreachable", None, at))
                return None
        return self._binding("unconfirmed")

    # -- internals
    def _read(
        self,
        reader: str,
        side: Side,
        holder: tuple[str, str],
        answer: ScanAnswer,
        now: float | None,
    ) -> None:
        at = time.time() if now is None else now
        with self._lock:
            waiting = self._take(reader, at)
            if waiting is None or waiting.side == side:
                self._put(reader, Waiting(side, holder, at))
                answer.extra["binding"] = self._binding("waiting", side=side)
                return
        if waiting.holder is None:
            answer.extra["binding"] = self._binding("unconfirmed")
        elif waiting.holder == holder:
            answer.extra["binding"] = self._binding("match")
        else:
            answer.extra["binding"] = self._binding("mismatch")
            error = VerificationError(
                ErrorCode.HOLDER_MISMATCH,
                "the code's holder is not the person whose ID card was read",
            )
            answer.result = answer.result._replace(
                valid=False, error=error.code, message=error.message, credential=None, claims=None
            )

    def _take(self, reader: str, at: float) -> Waiting | None:
        """The reader's waiting read if still within the window (it is consumed either way)."""
        waiting = self._waiting.pop(reader, None)
        if waiting is None or at - waiting.at > self.window_s or at < waiting.at:
            return None
        return waiting

    def _put(self, reader: str, waiting: Waiting) -> None:
        self._waiting[reader] = waiting
        # Expired reads go first; past the bound the oldest go (each is one person's pseudonym).
        while self._waiting:
            oldest_reader, oldest = next(iter(self._waiting.items()))
            if waiting.at - oldest.at <= self.window_s and len(self._waiting) <= MAX_WAITING:
                break
            del self._waiting[oldest_reader]

    def _binding(self, result: str, *, side: Side | None = None) -> dict[str, Any]:
        binding: dict[str, Any] = {
            "result": result,
            "window_s": self.window_s,
            "required": self.required,
        }
        if side is not None:
            binding["side"] = side
        return binding


def _holder(answer: ScanAnswer) -> tuple[str, str] | None:
    credential = answer.result.credential
    if not answer.result.valid or credential is None:
        return None
    return credential.issuer, credential.subject
