"""The bounded peer client against a hostile peer on loopback (issue 13, defects 1-3)."""

from __future__ import annotations

import gzip
import json
import ssl
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from healthcode.deadline import DeadlineTransport, shared_ssl_context
from healthcode.errors import ErrorCode, PeerError
from healthcode.fetch import KIB, MIB, PEER_BOUNDS, PeerClient, ReadBounds, job_deadline
from tests.hostile import (
    Answer,
    HostilePeer,
    brotli_bomb,
    dripping,
    gzip_bomb,
    json_answer,
    nested_json,
    raw_json_answer,
)
from tests.servers import free_port

#: Both bombs decode to this many bytes; the bounded read keeps 4 MiB at most.
BOMB_DECODED = 256 * MIB
BOUNDS = ReadBounds(4 * MIB, 60.0)
#: The stated bound: reading a bomb may grow the process's peak RSS by at most this much
#: (the 4 MiB cap, one 64 KiB read, the decoder's window, allocator slack).
PEAK_GROWTH_BOUND_KIB = 24 * 1024


@pytest.fixture(scope="module")
def bombs() -> Iterator[HostilePeer]:
    routes = {"/gzip": gzip_bomb(BOMB_DECODED), "/br": brotli_bomb(BOMB_DECODED)}
    with HostilePeer(routes) as peer:
        yield peer


def _refused(call: object) -> PeerError:
    assert callable(call)
    with pytest.raises(PeerError) as caught:
        call()
    return caught.value


def test_a_plain_answer_is_read_and_we_ask_for_no_compression() -> None:
    with HostilePeer({"/doc": json_answer({"ok": [1, 2]})}) as peer, PeerClient() as http:
        answer = http.get(peer.url("/doc"), PEER_BOUNDS.service_call)
        assert answer.status_code == 200
        assert answer.json() == {"ok": [1, 2]}
        head = peer.request_heads[0].lower()
    assert b"accept-encoding: identity" in head
    assert b"br" not in head.split(b"accept-encoding:")[1].split(b"\r\n")[0]


def test_an_error_status_is_returned_with_its_body() -> None:
    with HostilePeer({"/x": json_answer({"error": "nope"}, 409)}) as peer, PeerClient() as http:
        answer = http.get(peer.url("/x"), PEER_BOUNDS.service_call)
    assert answer.status_code == 409
    assert not answer.ok
    assert answer.json() == {"error": "nope"}


def test_an_honest_gzip_answer_is_decoded() -> None:
    body = gzip.compress(json.dumps({"list": "x" * 5000}).encode())
    routes = {"/z": Answer(200, {"Content-Encoding": "gzip"}, [body])}
    with HostilePeer(routes) as peer, PeerClient() as http:
        assert http.get(peer.url("/z"), PEER_BOUNDS.service_call).json() == {"list": "x" * 5000}


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_cap_is_refused(declared: bool) -> None:
    body = b"[" + b"1," * (40 * KIB) + b"1]"
    routes = {"/big": Answer(200, {}, [body[i : i + 4096] for i in range(0, len(body), 4096)])}
    routes["/big"].chunked = not declared  # without Content-Length the count decides
    with HostilePeer(routes) as peer, PeerClient() as http:
        error = _refused(lambda: http.get(peer.url("/big"), ReadBounds(64 * KIB, 60)))
    assert error.code is ErrorCode.UPSTREAM_TOO_LARGE


def test_the_bombs_are_real(bombs: HostilePeer) -> None:
    gz = gzip_bomb(BOMB_DECODED).parts[0]
    decoder, decoded = zlib.decompressobj(16 + zlib.MAX_WBITS), 0
    while gz:
        decoded += len(decoder.decompress(gz, 8 * MIB))
        gz = decoder.unconsumed_tail
    assert decoded == BOMB_DECODED
    br = brotli_bomb(BOMB_DECODED).parts[0]
    assert len(br) < 4 * KIB
    assert len(gzip_bomb(BOMB_DECODED).parts[0]) < 2 * MIB
    first = brotli.Decompressor().process(br, output_buffer_limit=MIB)
    assert len(first) >= MIB  # a few hundred bytes inflate past a megabyte at once


def test_a_gzip_bomb_is_refused(bombs: HostilePeer) -> None:
    with PeerClient() as http:
        error = _refused(lambda: http.get(bombs.url("/gzip"), BOUNDS))
    assert error.code is ErrorCode.UPSTREAM_TOO_LARGE


def test_a_brotli_answer_is_refused_undecoded(bombs: HostilePeer) -> None:
    with PeerClient() as http:
        error = _refused(lambda: http.get(bombs.url("/br"), BOUNDS))
    assert error.code is ErrorCode.UPSTREAM_MALFORMED
    assert "'br'" in error.message


_MEASURE = """
import json, resource, sys
from healthcode.fetch import MIB, PeerClient, ReadBounds
http = PeerClient()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    http.get(sys.argv[1], ReadBounds(4 * MIB, 60.0))
    outcome = "read"
except Exception as exc:
    outcome = str(getattr(exc, "code", type(exc).__name__))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "growth_kib": after - before}))
"""


@pytest.mark.parametrize(
    ("path", "code"), [("/gzip", "upstream_too_large"), ("/br", "upstream_malformed")]
)
def test_reading_a_bomb_keeps_peak_memory_under_the_bound(
    bombs: HostilePeer, path: str, code: str
) -> None:
    """In a fresh process, so the peak RSS is this read's alone (ru_maxrss, KiB on Linux)."""
    root = Path(__file__).parents[2]
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, bombs.url(path)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
        check=True,
    )
    measured = json.loads(run.stdout)
    assert measured["outcome"] == code
    assert measured["growth_kib"] < PEAK_GROWTH_BOUND_KIB, measured


def test_a_dripping_body_is_cut_at_the_deadline_though_no_read_times_out() -> None:
    # Each byte comes 0.2 s after the last: no single read ever waits long, so only an
    # overall deadline can end it. 400 bytes would take 80 s; the deadline is 1 s.
    routes = {"/drip": dripping(json.dumps({"x": "y" * 400}).encode(), 0.2)}
    with HostilePeer(routes) as peer, PeerClient() as http:
        error = _refused(lambda: http.get(peer.url("/drip"), ReadBounds(MIB, 1.0)))
        assert ("done", "/drip") not in peer.events
    assert error.code is ErrorCode.UPSTREAM_TIMEOUT
    assert "1 s" in error.message


def test_dripping_headers_are_cut_at_the_deadline_too() -> None:
    answer = json_answer({"x": 1})
    answer.drip_head, answer.drip_s = True, 0.2
    with HostilePeer({"/slow-head": answer}) as peer, PeerClient() as http:
        error = _refused(lambda: http.get(peer.url("/slow-head"), ReadBounds(MIB, 1.0)))
    assert error.code is ErrorCode.UPSTREAM_TIMEOUT


def test_nested_json_is_refused_with_its_code() -> None:
    routes = {
        "/deep": raw_json_answer(nested_json(100_000)),
        "/ok": raw_json_answer(nested_json(31)),
    }
    with HostilePeer(routes) as peer, PeerClient() as http:
        deep = http.get(peer.url("/deep"), PEER_BOUNDS.service_call)
        error = _refused(deep.json)
        shallow = http.get(peer.url("/ok"), PEER_BOUNDS.service_call).json()  # 32 levels
    assert isinstance(shallow, dict)
    assert isinstance(shallow["a"], list)
    assert error.code is ErrorCode.UPSTREAM_MALFORMED
    assert "deeper than 32" in error.message


def test_an_unreachable_peer_is_upstream_unavailable() -> None:
    with PeerClient() as http:
        error = _refused(lambda: http.get(f"http://127.0.0.1:{free_port()}/", BOUNDS))
    assert error.code is ErrorCode.UPSTREAM_UNAVAILABLE


def test_the_query_never_appears_in_messages() -> None:
    with PeerClient() as http:
        url = f"http://127.0.0.1:{free_port()}/lookup?id=11010519491231002X"
        error = _refused(lambda: http.get(url, BOUNDS))
    assert "1101051949" not in error.message


def test_a_job_deadline_bounds_every_request_of_the_job() -> None:
    routes = {"/drip": dripping(json.dumps({"x": "y" * 400}).encode(), 0.2)}
    with HostilePeer(routes) as peer, PeerClient() as http, job_deadline(1.0):
        # The request's own bound is a minute; the job's second is what cuts it.
        error = _refused(lambda: http.get(peer.url("/drip"), ReadBounds(MIB, 60.0)))
        assert error.code is ErrorCode.UPSTREAM_TIMEOUT
        assert "job's deadline" in error.message
        # The job's time is spent: the next request is refused before it is sent.
        again = _refused(lambda: http.get(peer.url("/drip"), ReadBounds(MIB, 60.0)))
        assert again.code is ErrorCode.UPSTREAM_TIMEOUT
        assert peer.events.count(("request", "/drip")) == 1


def test_transports_share_one_tls_context_per_trust_setting() -> None:
    """A client made for one call (a relayed look-up, a print job) must not rebuild the CA
    store each time: that is about 20 ms of CPU, and a burst of look-ups paid it all at once."""
    first, second, unverified = (
        DeadlineTransport(True),
        DeadlineTransport(True),
        DeadlineTransport(False),
    )
    try:
        shared = shared_ssl_context(True)
        assert first._pool._ssl_context is shared
        assert second._pool._ssl_context is shared
        assert shared.verify_mode == ssl.CERT_REQUIRED
        assert shared.check_hostname
        off = unverified._pool._ssl_context
        assert off is not None
        assert off is not shared
        assert off.verify_mode == ssl.CERT_NONE
    finally:
        for transport in (first, second, unverified):
            transport.close()
