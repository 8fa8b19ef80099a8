"""Fetch, verify, persist and refresh the signed trust list from the registry (§7.6).

`TrustListClient` is what a checkpoint or verify service holds::

    client = TrustListClient("https://registry.example.cn", Path("root.json"), Path("cache"))
    client.start_background_refresh()          # daemon thread, jittered interval
    result = verify_credential(qr_text, client.current())

It starts from the last good list on disk (so a checkpoint boots offline). Each refresh, as in
TUF's client workflow: probe `GET /v1/root/{held+1}` until 404 and walk the root forward; ask
for the list with `If-None-Match`; fetch the short-lived timestamp (§7.7) even when the list
is unchanged (a 304) or refused, so the trusted time keeps moving. It applies the update rules
of `TrustListState` and writes what it took atomically (temp file + rename). The trusted time
is a persisted high-water mark: it never goes backwards, across restarts included (§7.5),
except when a new root replaces the timestamp keys (then it falls back to the held list's
`signed_at`, on disk too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.errors import (
    ErrorCode,
    HealthcodeError,
    PeerError,
    TrustListError,
    TrustUnavailable,
)
from healthcode.fetch import PEER_BOUNDS, PeerBounds, PeerClient, ReadBounds
from healthcode.trust import TrustStore
from healthcode.trustlist import (
    DEFAULT_STALE_GRACE_S,
    RootMetadata,
    TrustListState,
    format_time,
    load_root,
    verify_root_update,
    verify_trust_list,
)

__all__ = ["TrustListClient"]

log = logging.getLogger(__name__)

ROOTS_DIR = "roots"  # roots taken after the pinned one, `{version}.json`
TRUST_LIST_FILE = "trust-list.json"
TIMESTAMP_FILE = "timestamp.json"  # the held timestamp (§7.7), verified again on load
#: The trusted-time high-water mark (§7.5). Losing it only weakens the clock check to the
#: held documents' signed times; raising it by hand can only make verification refuse.
TRUSTED_TIME_FILE = "trusted-time.json"
META_FILE = "client-state.json"  # ETag and fetch times; not security relevant
#: Refresh intervals are spread by +-20 % so a fleet of checkpoints does not call in lockstep.
JITTER = 0.2
OK, NOT_MODIFIED, NOT_FOUND = 200, 304, 404
#: At most this many root versions are walked in one refresh (a registry cannot stall us).
MAX_ROOT_STEPS = 32


class TrustListClient:
    """A registry client holding the verified root and trust list of one verifier.

    Args:
        registry_url: base URL of the registry (`GET {url}/v1/trust-list`).
        pinned_root: the initial root shipped with the software: a file, or the signed
            document itself (JWS JSON). It must be signed by a threshold of its own keys.
        cache_dir: where the last good root chain and list are kept across restarts.
        http: the bounded peer client to use (default: one of our own).
        bounds: bytes, deadline and JSON depth per registry endpoint (docs/peer-bounds.md).
        refresh_interval_s: mean seconds between background refreshes.
        stale_grace_s: how long an expired held list keeps verifying, reported stale.
        clock: the time source (epoch seconds); tests pass a fixed one.

    Raises:
        TrustListError: the pinned root is damaged or not signed by its own threshold.
        OSError: the pinned root file cannot be read.
    """

    def __init__(
        self,
        registry_url: str,
        pinned_root: str | os.PathLike[str] | Mapping[str, Any],
        cache_dir: Path,
        *,
        http: PeerClient | None = None,
        bounds: PeerBounds = PEER_BOUNDS,
        refresh_interval_s: float = 60,
        stale_grace_s: int = DEFAULT_STALE_GRACE_S,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if refresh_interval_s <= 0:
            raise ValueError(f"refresh_interval_s must be > 0, got {refresh_interval_s}")
        self.registry_url = registry_url.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.refresh_interval_s = refresh_interval_s
        self._clock = clock
        self._own_http = http is None
        self._http = http or PeerClient()
        self._bounds = bounds
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._etag: str | None = None
        self._fetched_at: float | None = None
        self._checked_at: float | None = None
        self._saved_trusted_time = 0.0
        self._last_error: dict[str, Any] | None = None
        if isinstance(pinned_root, str | os.PathLike):
            pinned_document: Any = Path(pinned_root).read_bytes()
        else:
            pinned_document = pinned_root
        root = load_root(pinned_document)
        self._state = TrustListState(root, stale_grace_s=stale_grace_s, limits=limits)
        self._load_cache()

    # -- public -------------------------------------------------------------------------------

    def current(self) -> TrustStore:
        """The trust store to verify with (an expired list stays usable within the grace).

        Raises:
            TrustUnavailable: `trust_list_unavailable` if no verified list is held.
        """
        return self._state.trust_store(self._clock())

    @property
    def root(self) -> RootMetadata:
        return self._state.root

    def refresh(self) -> bool:
        """Ask the registry once; returns True if a newer list was taken.

        Raises:
            TrustUnavailable: `upstream_unavailable` when the registry cannot be reached or
                answers with an error status.
            TrustListError: the offered root or list was refused; the held one stays.
        """
        with self._refresh_lock:
            try:
                taken = self._refresh()
            except HealthcodeError as error:
                self._last_error = {
                    "code": error.code.value,
                    "message": error.message,
                    "at": format_time(self._clock()),
                }
                raise
            self._last_error = None
            return taken

    def status(self) -> dict[str, Any]:
        """What a checkpoint screen shows about its trust data (JSON-ready)."""
        now = self._clock()
        held = self._state.trust_list
        root = self._state.root

        def when(epoch: float | None) -> str | None:
            return None if epoch is None else format_time(epoch)

        expires = self._state.expires_at()
        stamp = self._state.timestamp
        return {
            "registry": self.registry_url,
            "root_version": root.version,
            "version": held.version if held else None,
            "signed_at": format_time(held.signed_at) if held else None,
            "expires": format_time(held.expires) if held else None,
            "fetched_at": when(self._fetched_at),
            "checked_at": when(self._checked_at),
            "trusted_time": when(self._state.trusted_time or None),
            "timestamp_version": (
                self._state.timestamp.version if self._state.timestamp is not None else None
            ),
            "timestamp_expires": format_time(stamp.expires) if stamp is not None else None,
            "issuers": len(held.issuers) if held else 0,
            # Stale from the sooner of the list's and the timestamp's expiry (§7.7): a frozen
            # registry (an expired timestamp, nothing newer) makes the list stale at once.
            "stale": expires is not None and now > expires,
            "frozen": self._state.frozen(now),
            "expired": expires is not None and now > expires + self._state.stale_grace_s,
            "last_error": self._last_error,
        }

    def start_background_refresh(self) -> None:
        """Refresh now and then every interval (+-20 % jitter) in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trust-list-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (if any) and close our own HTTP client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        if self._own_http:
            self._http.close()

    def __enter__(self) -> TrustListClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- refresh ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except HealthcodeError as error:
                log.warning("trust list refresh failed: %s: %s", error.code.value, error.message)
            except Exception:
                # Never let the thread die: a checkpoint must keep its held list and retry.
                log.exception("trust list refresh failed unexpectedly")
            jitter = 1 + JITTER * (secrets.randbelow(2001) - 1000) / 1000
            self._stop.wait(self.refresh_interval_s * jitter)

    def _refresh(self) -> bool:
        now = self._clock()
        refused: HealthcodeError | None = None
        taken = False
        try:
            # (1) §7.1 / TUF 5.3: probe for root N+1 until 404, whatever the list names.
            self._walk_roots(now)
            # (2) the list, conditionally.
            taken = self._refresh_list(now)
        except HealthcodeError as error:
            refused = error
        try:
            # (3) §7.7: the timestamp moves the trusted time even when the list is unchanged
            # (a 304) or was refused: a bad list offered must not also stop the clock check.
            self._refresh_timestamp(now)
        except HealthcodeError as error:
            if refused is None:
                raise
            # The list's refusal is what the caller hears; this one is only logged.
            log.warning(
                "trust timestamp refresh failed too: %s: %s", error.code.value, error.message
            )
        finally:
            self._persist_meta()
            self._persist_trusted_time()
        if refused is not None:
            raise refused
        return taken

    def _refresh_list(self, now: float) -> bool:
        headers = {"Accept": "application/json"}
        if self._etag is not None and self._state.trust_list is not None:
            headers["If-None-Match"] = self._etag
        status, etag, body = self._fetch("/v1/trust-list", self._bounds.trust_list, headers)
        self._checked_at = now
        taken = False
        if status != NOT_MODIFIED:
            taken = self._state.update(body, now)
            self._etag = etag
            if taken:
                self._persist(TRUST_LIST_FILE, body)
        self._fetched_at = now  # the registry answered: a 304 is a successful contact too
        return taken

    def _refresh_timestamp(self, now: float) -> None:
        if not self._state.root.timestamp_keys:
            return  # a root without the online role: the list's own signed_at is all we have
        status, _, body = self._fetch(
            "/v1/timestamp", self._bounds.timestamp, {"Accept": "application/json"}
        )
        if status == OK and self._state.update_timestamp(body, now):
            self._persist(TIMESTAMP_FILE, body)

    def _walk_roots(self, now: float) -> None:
        held = self._state.root.version
        documents: list[bytes] = []
        for version in range(held + 1, held + MAX_ROOT_STEPS + 2):
            status, _, body = self._fetch(
                f"/v1/root/{version}", self._bounds.root, {}, missing_ok=True
            )
            if status == NOT_FOUND:
                break
            if len(documents) == MAX_ROOT_STEPS:
                raise TrustListError(
                    ErrorCode.TRUST_LIST_MALFORMED,
                    f"the registry serves over {MAX_ROOT_STEPS} root versions past the held "
                    f"root {held}",
                )
            documents.append(body)
        if not documents:
            return
        taken = self._state.update_roots(documents, now)
        if self._state.timestamp is None:
            # The new root replaced the timestamp keys, so the state dropped the held timestamp
            # and lowered the trusted time (a stolen key's mark must not come back from disk).
            # Written before the roots: a crash in between cannot pair the new root with it.
            self._remove(TIMESTAMP_FILE)
            self._persist_trusted_time()
        for root, document in zip(taken, documents, strict=True):
            self._persist(f"{ROOTS_DIR}/{root.version}.json", document)
        # The held list was signed under the old root: fetch it whole, so the list offered
        # now is checked against the new root (a 304 would skip that).
        self._etag = None

    def _fetch(
        self,
        path: str,
        bounds: ReadBounds,
        headers: Mapping[str, str],
        *,
        missing_ok: bool = False,
    ) -> tuple[int, str | None, bytes]:
        """GET `path`: (status, ETag, body). 304 (and 404 when `missing_ok`) have an empty
        body; other non-200s raise.

        The answer is read within `bounds` (healthcode.fetch): decoded bytes, one deadline for
        the whole request, so a hostile or broken registry can neither exhaust a checkpoint's
        memory nor hold its refresh past the deadline.
        """
        try:
            answer = self._http.get(self.registry_url + path, bounds, headers=headers)
        except PeerError as error:
            if error.code is ErrorCode.UPSTREAM_TOO_LARGE:
                raise TrustListError(ErrorCode.TRUST_LIST_MALFORMED, error.message) from error
            raise
        status = answer.status_code
        if status == NOT_MODIFIED or (missing_ok and status == NOT_FOUND):
            return status, answer.headers.get("ETag"), b""
        if status != OK:
            raise TrustUnavailable(
                ErrorCode.UPSTREAM_UNAVAILABLE, f"trust registry answered {status} to GET {path}"
            )
        return status, answer.headers.get("ETag"), answer.content

    # -- disk ---------------------------------------------------------------------------------

    def _load_cache(self) -> None:
        """Start from the cached root chain and list, each verified again (disk is not trusted
        more than the network). A damaged cache is logged and ignored."""
        roots_dir = self.cache_dir / ROOTS_DIR
        root = self._state.root
        chain: list[Any] = []
        version = root.version + 1
        while (roots_dir / f"{version}.json").is_file():
            chain.append((roots_dir / f"{version}.json").read_bytes())
            version += 1
        try:
            for document in chain:
                root = verify_root_update(root, document)
        except TrustListError as error:
            log.warning("cached root %s refused: %s", root.version + 1, error.message)
        if root is not self._state.root:
            self._state = TrustListState(
                root, stale_grace_s=self._state.stale_grace_s, limits=self._state.limits
            )
        path = self.cache_dir / TRUST_LIST_FILE
        if path.is_file():
            try:
                # Signatures and root are checked; expiry is not: an expired held list still
                # verifies within the grace period and is the rollback floor (§7.6).
                held = verify_trust_list(path.read_bytes(), root, limits=self._state.limits)
            except TrustListError as error:
                log.warning("cached trust list %s refused: %s", path, error.message)
                self._last_error = {
                    "code": error.code.value,
                    "message": f"cached list refused: {error.message}",
                    "at": format_time(self._clock()),
                }
            else:
                self._state = TrustListState(
                    root, held, stale_grace_s=self._state.stale_grace_s, limits=self._state.limits
                )
        path = self.cache_dir / TIMESTAMP_FILE
        if path.is_file() and self._state.root.timestamp_keys:
            try:
                # Expiry is not judged on load: an expired timestamp still raises the floor.
                self._state.update_timestamp(path.read_bytes(), 0)
            except TrustListError as error:
                log.warning("cached timestamp %s refused: %s", path, error.message)
        saved = self._read_json(TRUSTED_TIME_FILE).get("trusted_time")
        if _is_epoch(saved):
            self._state.note_trusted_time(float(saved))
            self._saved_trusted_time = float(saved)
        elif saved is not None or (self.cache_dir / TRUSTED_TIME_FILE).is_file():
            # We only ever write a finite epoch; NaN, infinity or a year past 9999 (JSON parses
            # 1e400 as infinity) is damage. Ignored, the held documents' signed times bound
            # the clock meanwhile, and the next refresh writes a good value over it.
            log.error(
                "%s in %s holds %r, not a time; ignored as corrupt",
                TRUSTED_TIME_FILE,
                self.cache_dir,
                saved,
            )
        meta = self._read_meta()
        if self._state.trust_list is not None:
            etag = meta.get("etag")
            self._etag = etag if isinstance(etag, str) else None
        fetched_at = meta.get("fetched_at")
        if _is_epoch(fetched_at):
            self._fetched_at = float(fetched_at)

    def _read_meta(self) -> dict[str, Any]:
        return self._read_json(META_FILE)

    def _read_json(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.cache_dir / name).read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _persist_meta(self) -> None:
        meta = {"etag": self._etag, "fetched_at": self._fetched_at}
        self._persist(META_FILE, _dump(meta))

    def _persist_trusted_time(self) -> None:
        # Written when it differs, not only when higher: the state lowers it when a new root
        # replaces the timestamp keys (TrustListState.update_roots), and disk must follow.
        trusted = self._state.trusted_time
        if trusted != self._saved_trusted_time:
            self._persist(TRUSTED_TIME_FILE, _dump({"trusted_time": trusted}))
            self._saved_trusted_time = trusted

    def _remove(self, name: str) -> None:
        try:
            (self.cache_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            log.error("cannot remove %s from the trust cache: %s", name, exc)

    def _persist(self, name: str, data: bytes) -> None:
        # A failed write must not cost the list just verified (it may carry a key revocation):
        # keep it in memory, log, and try again on the next refresh.
        try:
            write_atomic(self.cache_dir / name, data)
        except OSError as exc:
            log.error("cannot write %s to the trust cache: %s", name, exc)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old or the new file, never a part of one.

    Temp file in the same directory, fsync, rename over the target, fsync the directory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


#: 9999-12-31T23:59:59Z, the last second `format_time` (and datetime) can show.
_LAST_EPOCH = 253_402_300_799


def _is_epoch(value: object) -> TypeGuard[int | float]:
    """A time this client could have written: a finite number of seconds within 1970..9999."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= _LAST_EPOCH
    )


def _dump(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
