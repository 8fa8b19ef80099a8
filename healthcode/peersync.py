"""Each peer a service syncs from, on its own schedule, deadline and error state (ADR 0019).

A checkpoint's sources are the registry (the trust list) and every issuer or partner with a
revocations endpoint; an issuer's are its partners' revocation feeds. Before issue 13 one job
refreshed the trust list and then pulled every issuer in turn, so one province dripping its
answer a byte every 3 s delayed a registry suspension of another province by minutes, with
nothing on screen. Here each source has:

- its own worker thread, woken every `interval_s` (and by `run_all_once`);
- its own deadline: the whole job runs under `healthcode.fetch.job_deadline`, so every HTTP
  call it makes ends by then, however many it makes (the registry walks roots, then the list,
  then the timestamp);
- its own state: last attempt, last success, last error with its code; the checkpoint's
  `/v1/status` lists every source and the staff page names the failing ones.

A job raising is that source's failure only. Nothing a source does waits for another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from healthcode.errors import HealthcodeError
from healthcode.fetch import job_deadline

__all__ = ["PeerSyncs", "SourceState"]

logger = logging.getLogger("healthcode.peersync")

Job = Callable[[], str]  # one sync; returns a short outcome ("ok (+3)"); raises on failure


@dataclass(slots=True)
class SourceState:
    """What is known about one source's syncs (JSON-ready through `to_json`)."""

    name: str  # "registry", or the issuer id
    kind: str  # "registry" | "issuer" | "partner"
    interval_s: float
    deadline_s: float
    last_attempt: float | None = None
    last_success: float | None = None
    last_outcome: str | None = None
    successes: int = 0  # since start
    last_error: dict[str, str] | None = None  # {"code", "message"} of the last failure
    running_since: float | None = None

    def to_json(self, now: float) -> dict[str, Any]:
        def age(moment: float | None) -> int | None:
            return None if moment is None else max(0, int(now - moment))

        if self.last_error is not None:
            state = "failing"
        elif self.last_success is None:
            state = "syncing" if self.running_since is not None else "never"
        else:
            state = "ok"
        return {
            "name": self.name,
            "kind": self.kind,
            "state": state,
            "age_s": age(self.last_success),
            "last_success": self.last_success,
            "last_attempt": self.last_attempt,
            "running_for_s": age(self.running_since),
            "last_error": self.last_error,
            "successes": self.successes,
            "interval_s": self.interval_s,
            "deadline_s": self.deadline_s,
        }


@dataclass(slots=True)
class _Source:
    state: SourceState
    job: Job
    wake: threading.Event = field(default_factory=threading.Event)
    gone: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one run at a time
    thread: threading.Thread | None = None


class PeerSyncs:
    """The sources of one checkpoint and their worker threads.

    `clock` stamps states (tests inject one); intervals and deadlines are real seconds.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sources: dict[str, _Source] = {}
        self._lock = threading.Lock()
        self._running = False

    def put(self, name: str, kind: str, job: Job, *, interval_s: float, deadline_s: float) -> None:
        """Add a source, or replace the job of an existing one (its state is kept)."""
        with self._lock:
            source = self._sources.get(name)
            if source is not None:
                source.job = job
                source.state.interval_s, source.state.deadline_s = interval_s, deadline_s
                return
            source = _Source(SourceState(name, kind, interval_s, deadline_s), job)
            self._sources[name] = source
            if self._running:
                self._start(source)

    def keep_only(self, kind: str, names: Iterable[str]) -> None:
        """Drop the sources of `kind` not in `names` (an issuer left the trust list)."""
        wanted = set(names)
        with self._lock:
            for name in [n for n, s in self._sources.items() if s.state.kind == kind]:
                if name not in wanted:
                    self._sources.pop(name).gone.set()

    def run(self, name: str) -> str:
        """Run one source's job now, in this thread, within its deadline; never raises."""
        return self._run(self._sources[name])

    def _run(self, source: _Source) -> str:
        name = source.state.name
        with source.lock:
            state = source.state
            state.last_attempt = state.running_since = self._clock()
            try:
                with job_deadline(state.deadline_s):
                    outcome = source.job()
            except HealthcodeError as error:
                state.last_error = {"code": error.code.value, "message": error.message[:300]}
                outcome = "failed"
            except Exception as error:  # a bug: this source fails, the others go on
                logger.exception("sync of %s failed unexpectedly", name)
                state.last_error = {"code": "internal", "message": type(error).__name__}
                outcome = "failed"
            else:
                state.last_error = None
                state.last_success = self._clock()
                state.successes += 1
            finally:
                state.running_since = None
            state.last_outcome = outcome
            if state.last_error is not None:
                logger.info("sync of %s failed: %s", name, state.last_error["message"])
            return outcome

    def run_all_once(self, kind: str | None = None) -> dict[str, str]:
        """Run every source (of `kind`) once, concurrently; each ends by its own deadline."""
        with self._lock:
            names = [n for n, s in self._sources.items() if kind is None or s.state.kind == kind]
        outcomes: dict[str, str] = {}

        def one(source: _Source) -> None:
            outcomes[source.state.name] = self._run(source)

        with self._lock:
            chosen = [self._sources[name] for name in names if name in self._sources]
        threads = [threading.Thread(target=one, args=(s,), daemon=True) for s in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {name: outcomes[name] for name in names if name in outcomes}

    def status(self) -> list[dict[str, Any]]:
        now = self._clock()
        with self._lock:
            states = [source.state for source in self._sources.values()]
        return [state.to_json(now) for state in states]

    def failing(self) -> list[str]:
        return [s["name"] for s in self.status() if s["state"] == "failing"]

    def names(self, kind: str | None = None) -> list[str]:
        with self._lock:
            return [n for n, s in self._sources.items() if kind is None or s.state.kind == kind]

    # -- background workers

    def start(self) -> None:
        """One daemon thread per source, each running its job every `interval_s`."""
        with self._lock:
            self._running = True
            for source in self._sources.values():
                self._start(source)

    def stop(self) -> None:
        with self._lock:
            self._running = False
            sources = list(self._sources.values())
        for source in sources:
            source.gone.set()
            source.wake.set()
        # A worker inside a request ends by its deadline; we do not wait for it (daemon).

    def _start(self, source: _Source) -> None:
        if source.thread is None or not source.thread.is_alive():
            source.gone.clear()
            source.thread = threading.Thread(
                target=self._work, args=(source,), name=f"sync-{source.state.name}", daemon=True
            )
            source.thread.start()

    def _work(self, source: _Source) -> None:
        while not source.gone.is_set():
            self._run(source)
            source.wake.wait(source.state.interval_s)
            source.wake.clear()
