"""ID-card reads and assisted look-ups (刷身份证 / 老幼助查), standard §6.3 and §10.7.

The checkpoint validates the ID number, routes by its division code to the home issuer in the
trust list, and asks ITS OWN province's issuer (`POST /v1/checkpoint/status-lookup`, device
credential), which answers locally or relays the home province's credential. The credential is
verified like a scanned code before any colour is shown.

Answers are cached in Redis for at most 60 s under an HMAC of the ID number and name keyed with
a checkpoint secret, never the raw number; a cached answer is verified again on every use.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import redis

from healthcode.errors import ErrorCode, PeerError, RequestError
from healthcode.fetch import PEER_BOUNDS, PeerAnswer, PeerClient, ReadBounds
from healthcode.idnumber import ResidentId, parse_id_number
from healthcode.server.redis_client import RedisClient
from healthcode.trust import IssuerEntry, RevocationStatus
from healthcode.verify import ExpectedHolder, ExpectedSubject
from verifiers.revocations import RevocationCache
from verifiers.scan import Checkpoint, ScanAnswer

logger = logging.getLogger("verifiers.lookup")

_CACHE_PREFIX = "hc:ckpt:lookup:"
#: After a cache failure the cache is left alone this long: each ID-card read would otherwise
#: wait for the Redis timeout again.
_CACHE_RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """A credential obtained for an ID-card read, and where it came from."""

    token: str
    home_issuer: str
    fetched_at: float
    cached: bool


class LiveStatusChecker:
    """Revocation for a credential fetched live from its issuer moments ago.

    The issuer signed the current status when it answered, so the answer itself is as fresh as
    `fetched_at`; a `jti` listed in the synced revocation data is still refused.
    """

    def __init__(self, revocations: RevocationCache, fetched_at: float) -> None:
        self._revocations = revocations
        self.as_of = fetched_at

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        state = self._revocations.state(issuer)
        if state is not None and jti in state.revoked:
            return RevocationStatus.REVOKED
        return RevocationStatus.NOT_REVOKED


def lookup_cache_key(secret: bytes, resident: ResidentId, name: str | None) -> str:
    """Redis key for a look-up answer: a keyed hash, so the key reveals no ID number."""
    message = resident.number + "\x00" + normalise_name(name)
    return _CACHE_PREFIX + hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def normalise_name(name: str | None) -> str:
    """The name as compared by the issuer: NFKC, without surrounding or inner spaces."""
    if not name:
        return ""
    return "".join(unicodedata.normalize("NFKC", name).split())


class IssuerCredential:
    """This checkpoint's credential at its issuer: a fixed token, or a device account.

    Issuer access tokens expire (an hour by default), so a checkpoint that runs for days logs in
    with its device account and logs in again when the token is near its end or refused.
    """

    _RENEW_BEFORE_S = 60

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._token = token
        self._username = username
        self._password = password
        self._expires_at = float("inf") if token else 0.0
        self._lock = threading.Lock()

    @property
    def can_log_in(self) -> bool:
        return self._username is not None and self._password is not None

    def headers(
        self, http: PeerClient, issuer_url: str, bounds: ReadBounds, *, renew: bool = False
    ) -> dict[str, str]:
        """The Authorization header, logging in first when needed (or when `renew`)."""
        with self._lock:
            due = renew or time.time() > self._expires_at - self._RENEW_BEFORE_S
            if self.can_log_in and (self._token is None or due):
                self._log_in(http, issuer_url, bounds)
            return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _log_in(self, http: PeerClient, issuer_url: str, bounds: ReadBounds) -> None:
        response = http.post(
            issuer_url + "/v1/auth/login",
            bounds,
            json={"username": self._username, "password": self._password},
        )
        self._token = None
        if response.status_code != 200:
            raise RequestError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                "the issuer refused this checkpoint's device account; ask the province admin",
            )
        try:
            data = response.json()
            token = data["access_token"]
            lifetime_s = float(data.get("expires_in", 3600))
            if not isinstance(token, str) or not token or not lifetime_s > 0:
                raise TypeError("no usable access_token/expires_in")
        except (PeerError, KeyError, TypeError, AttributeError, ValueError):
            raise RequestError(
                ErrorCode.UPSTREAM_MALFORMED,
                "the issuer's login answer is malformed; try again shortly or ask the admin",
            ) from None
        self._token = token
        self._expires_at = time.time() + lifetime_s


class StatusLookup:
    """Obtains and verifies the home-province credential for an ID number."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        issuer_url: str | None,
        issuer_credential: IssuerCredential,
        checkpoint_id: str,
        cache_secret: bytes,
        redis_client: RedisClient | None,
        http: PeerClient,
        cache_ttl_s: int = 60,
        bounds: ReadBounds = PEER_BOUNDS.status_lookup,
    ) -> None:
        if not 0 < cache_ttl_s <= 60:
            raise ValueError("the look-up cache lifetime must be 1..60 s (standard §10.7)")
        self.checkpoint = checkpoint
        self.issuer_url = issuer_url.rstrip("/") if issuer_url else None
        self._credential = issuer_credential
        self.checkpoint_id = checkpoint_id
        self._cache_secret = cache_secret
        self._redis = redis_client
        self._http = http
        self._bounds = bounds
        self.cache_ttl_s = cache_ttl_s
        self._cache_down_until = 0.0

    def read(
        self,
        id_number: str,
        name: str | None,
        *,
        assisted: bool,
        now: float | None = None,
        holder: ExpectedHolder | None = None,
    ) -> tuple[ResidentId, ScanAnswer]:
        """Validate, look up (cache first) and verify; raises HealthcodeError for refusals.

        `holder`: the code scanned just before (scan + tap): the card's credential must be
        that code's holder's, or the answer is `holder_mismatch`.
        """
        resident = parse_id_number(id_number)  # IdNumberError: invalid_id_number/unknown_region
        trust = self.checkpoint.trust()
        home = trust.issuer_for_region(resident.division_code)
        if home is None:
            raise RequestError(
                ErrorCode.UNKNOWN_REGION,
                f"no trusted issuer serves province {resident.province_code[:2]} "
                f"({resident.province_name}); check the trust list",
            )
        mode = "assisted" if assisted else "id_card"
        key = lookup_cache_key(self._cache_secret, resident, name)
        cached = self._cache_get(key)
        if cached is not None:
            answer = self._verify(cached, resident, home, mode, now, holder)
            if answer.result.valid or answer.result.error is ErrorCode.HOLDER_MISMATCH:
                return resident, answer  # a mismatch is about the code, not this answer
            self._cache_delete(key)  # expired or revoked meanwhile: never trusted blindly
        lookup = self._fetch(resident, name, assisted=assisted)
        answer = self._verify(lookup, resident, home, mode, now, holder)
        if answer.result.valid or answer.result.error is ErrorCode.HOLDER_MISMATCH:
            self._cache_set(key, lookup.token)
        return resident, answer

    def _verify(
        self,
        lookup: LookupAnswer,
        resident: ResidentId,
        home: IssuerEntry,
        mode: str,
        now: float | None,
        holder: ExpectedHolder | None = None,
    ) -> ScanAnswer:
        checker = LiveStatusChecker(self.checkpoint.revocations, lookup.fetched_at)
        # The answer must be about this person and from their home province: a step of the
        # verification (the claims check), so `checks` says which step refused it.
        answer = self.checkpoint.verify_text(
            lookup.token,
            now=now,
            mode=mode,
            revocations=checker,
            expect=ExpectedSubject(resident.tail, home.id),
            holder=holder,
        )
        answer.extra.update(
            home_issuer=home.id,
            home_issuer_name=home.name,
            assisted=mode == "assisted",
            cached=lookup.cached,
            fetched_at=int(lookup.fetched_at),
        )
        return answer

    def _fetch(self, resident: ResidentId, name: str | None, *, assisted: bool) -> LookupAnswer:
        if self.issuer_url is None:
            raise RequestError(
                ErrorCode.UNAVAILABLE_OFFLINE,
                "no issuer is configured for ID-card look-ups; scan a QR or printed code",
            )
        body: dict[str, Any] = {
            "id_number": resident.number,
            "assisted": assisted,
            "checkpoint_id": self.checkpoint_id,
        }
        if name:
            body["name"] = name
        url = self.issuer_url + "/v1/checkpoint/status-lookup"
        try:
            headers = self._credential.headers(self._http, self.issuer_url, self._bounds)
            response = self._http.post(url, self._bounds, json=body, headers=headers)
            if response.status_code == 401 and self._credential.can_log_in:
                # The token expired or was revoked early: log in once more, then give up.
                headers = self._credential.headers(
                    self._http, self.issuer_url, self._bounds, renew=True
                )
                response = self._http.post(url, self._bounds, json=body, headers=headers)
            if response.status_code != 200:
                raise _upstream_error(response)
            data = response.json()  # depth-bounded: upstream_malformed
        except PeerError as error:
            raise _peer_failure(error) from None
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise RequestError(
                ErrorCode.UPSTREAM_MALFORMED,
                "the issuer's look-up answer holds no code; try again shortly",
            )
        return LookupAnswer(
            token=token,
            home_issuer=str(data.get("home_issuer", "")),
            fetched_at=time.time(),
            cached=False,
        )

    # -- cache (failures only cost a look-up; the cache never decides a colour)
    def _cache_usable(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._cache_down_until

    def _cache_failed(self) -> None:
        logger.info("look-up cache unavailable; not used for %.0f s", _CACHE_RETRY_S)
        self._cache_down_until = time.monotonic() + _CACHE_RETRY_S

    def _cache_get(self, key: str) -> LookupAnswer | None:
        if self._redis is None or not self._cache_usable():
            return None
        try:
            # One round trip for the answer and its age: Redis is across a network in a
            # deployment, and a cached read is the common case at a busy gate.
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.ttl(key)
                raw, ttl = pipe.execute()
        except redis.RedisError:
            self._cache_failed()
            return None
        if not isinstance(raw, bytes):
            return None
        fetched_at = time.time() - max(0, self.cache_ttl_s - max(int(ttl), 0))
        return LookupAnswer(raw.decode("ascii", "replace"), "", fetched_at, cached=True)

    def _cache_set(self, key: str, token: str) -> None:
        if self._redis is None or not self._cache_usable():
            return
        try:
            self._redis.set(key, token.encode("ascii"), ex=self.cache_ttl_s)
        except redis.RedisError:
            self._cache_failed()

    def _cache_delete(self, key: str) -> None:
        if self._redis is None or not self._cache_usable():
            return
        try:
            self._redis.delete(key)
        except redis.RedisError:
            self._cache_failed()


def _peer_failure(error: PeerError) -> RequestError:
    """What staff are told when the issuer could not be reached or its answer was refused."""
    logger.info("ID-card look-up failed: %s", error.code.value)
    if error.code is ErrorCode.UPSTREAM_UNAVAILABLE:
        return RequestError(
            ErrorCode.UNAVAILABLE_OFFLINE,
            "the province issuer cannot be reached; ID-card reads need the network, "
            "scan a QR or printed code instead",
        )
    if error.code is ErrorCode.UPSTREAM_TIMEOUT:
        return RequestError(
            error.code,
            "the province issuer did not answer in time; try again shortly, "
            "or scan a QR or printed code",
        )
    return RequestError(
        error.code,
        "the province issuer's answer was damaged and was not used; try again shortly, "
        "or scan a QR or printed code",
    )


def _upstream_error(response: PeerAnswer) -> RequestError:
    """Map the issuer's refusal to our code; its body is the standard error shape."""
    code: ErrorCode | None = None
    message = ""
    try:
        body = response.json()
        code = ErrorCode(str(body.get("error"))) if isinstance(body, dict) else None
        message = str(body.get("message", ""))[:200] if isinstance(body, dict) else ""
    except (PeerError, ValueError):
        code = None
    if response.status_code == 404 or code is ErrorCode.NOT_FOUND:
        return RequestError(
            ErrorCode.NOT_FOUND,
            "no citizen with this ID number and name at the home issuer; check the card",
        )
    if code in (ErrorCode.INVALID_ID_NUMBER, ErrorCode.UNKNOWN_REGION):
        return RequestError(code, "the issuer refused the ID number; re-enter it")
    if code is ErrorCode.INVALID_REQUEST:
        # What we sent was incomplete (e.g. no name for a traveller, standard §10.2): the staff
        # can fix that, so say what the issuer asked for instead of "unreachable".
        return RequestError(
            ErrorCode.INVALID_REQUEST, message or "the issuer refused the request as incomplete"
        )
    if response.status_code in (401, 403):
        return RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            "the issuer refused this checkpoint's device credential; ask the administrator",
        )
    return RequestError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"the issuer could not answer (HTTP {response.status_code}); try again shortly",
    )
