"""Scan + tap: does the scanned code belong to the person whose ID card was read? (ADR 0014)

A valid code proves nothing about who holds it: a borrowed phone or a screenshot of a
relative's green code passes whenever staff cannot compare a face with a masked name. When the
presenter's ID card is read within `window_s` of a code scan, in either order, on the same
device or staff session, the checkpoint compares the code's `(iss, sub)` with the `(iss, sub)`
of the credential the home issuer returned for that ID number (the ordinary ID-card read,
standard §6.3: the number goes only where it already goes). Three results (standard §6.4):

- ``match``: same issuer and pseudonymous subject;
- ``mismatch``: anything else; the second read is verified expecting the first one's holder,
  so its verification refuses it with `holder_mismatch` (a step of the claims check), shown
  and written to the scan log like every verdict;
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

from healthcode.errors import ErrorCode, HealthcodeError
from healthcode.verify import ExpectedHolder
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
    holder: ExpectedHolder | None  # (iss, sub); None when the home issuer was unreachable
    at: float


class HolderBinding:
    """Pairs code scans and ID-card reads per device or staff session within a window.

    For each read: `expected(reader, side)` before verifying (whose credential it must be, when
    the other side of a pair waits: the verification refuses anyone else's with
    `holder_mismatch`), then `settle(reader, side, answer, expected)` with the answer.
    """

    def __init__(self, window_s: float, *, required: bool = False) -> None:
        if window_s <= 0:
            raise ValueError("the scan + tap window must be positive")
        self.window_s = window_s
        self.required = required
        self._waiting: OrderedDict[str, Waiting] = OrderedDict()
        self._lock = threading.Lock()

    def expected(self, reader: str, side: Side, now: float | None = None) -> ExpectedHolder | None:
        """The holder the `side` read of `reader` must match: the other side's, if it waits."""
        at = time.time() if now is None else now
        with self._lock:
            waiting = self._waiting.get(reader)
        if waiting is None or waiting.side == side or not _fresh(waiting, at, self.window_s):
            return None
        return waiting.holder

    def settle(
        self,
        reader: str,
        side: Side,
        answer: ScanAnswer,
        expected: ExpectedHolder | None,
        now: float | None = None,
    ) -> None:
        """Record a verified read: it completes the waiting pair, or waits itself.

        Adds `binding` to the answer: `match`, `mismatch` (the verification refused it as
        `holder_mismatch`), `unconfirmed` (the card read could not reach the home issuer) or
        `waiting`. Reads without a health code of ours (errors, SMART Health Cards) leave the
        pairing as it is.
        """
        at = time.time() if now is None else now
        credential = answer.result.credential
        mismatch = answer.result.error is ErrorCode.HOLDER_MISMATCH
        if credential is None and not mismatch:
            return
        with self._lock:
            waiting = self._waiting.pop(reader, None)
            if waiting is not None and not _fresh(waiting, at, self.window_s):
                waiting = None
            if mismatch:
                result = "mismatch"
            elif waiting is not None and waiting.side == "card_unreachable" and side == "code":
                result = "unconfirmed"
            elif expected is not None and waiting is not None and waiting.holder == expected:
                result = "match"
            else:
                assert credential is not None
                holder = ExpectedHolder(credential.issuer, credential.subject)
                self._put(reader, Waiting(side, holder, at))
                answer.extra["binding"] = self._binding("waiting", side=side)
                return
        answer.extra["binding"] = self._binding(result)

    def card_unreachable(
        self, reader: str, error: HealthcodeError, now: float | None = None
    ) -> dict[str, Any] | None:
        """An ID-card read failed. When the home issuer was unreachable, a waiting code ends
        as ``unconfirmed`` (returned, for the error answer); with no code waiting, the card
        waits as unreachable, so the code scanned next is ``unconfirmed``."""
        if error.code not in UNREACHABLE:
            return None
        at = time.time() if now is None else now
        with self._lock:
            waiting = self._waiting.pop(reader, None)
            if waiting is None or waiting.side != "code" or not _fresh(waiting, at, self.window_s):
                self._put(reader, Waiting("card_unreachable", None, at))
                return None
        return {"binding": self._binding("unconfirmed")}

    def end(self, reader: str) -> bool:
        """The staff moved on to the next person: a waiting read pairs with nothing more."""
        with self._lock:
            return self._waiting.pop(reader, None) is not None

    # -- internals
    def _put(self, reader: str, waiting: Waiting) -> None:
        self._waiting[reader] = waiting
        # Expired reads go first; past the bound the oldest go (each is one person's pseudonym).
        while self._waiting:
            oldest_reader, oldest = next(iter(self._waiting.items()))
            if _fresh(oldest, waiting.at, self.window_s) and len(self._waiting) <= MAX_WAITING:
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


def _fresh(waiting: Waiting, at: float, window_s: float) -> bool:
    return waiting.at <= at <= waiting.at + window_s
