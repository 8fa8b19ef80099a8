"""`healthcode bench`: verification and issuance rates against their physical floor.

All figures come from one run on distinct tokens, so the ratios are comparable across
machines: (b)/(a) says how much our pipeline costs on top of the raw ES256 verify it must do.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from healthcode.credential import CodeKind, StatusColour, new_credential
from healthcode.jws import parse_compact, sign_credential
from healthcode.keys import SigningKey, jwks_document
from healthcode.qr import encode_numeric, qr_matrix, render_png
from healthcode.trust import TrustStore
from healthcode.verify import verify_credential

_SUBJECT = "bench-subject-pseudonym-0"


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Rates (operations per second) of one `run_benchmark`, each the best of its rounds."""

    raw_verify_per_s: float
    verify_per_s: float
    jwcrypto_verify_per_s: float
    issue_qr_matrix_per_s: float
    issue_png_per_s: float
    tokens: int
    rounds: int

    @property
    def verify_vs_raw(self) -> float:
        """(b)/(a): the share of the raw ES256 rate that the whole pipeline keeps."""
        return self.verify_per_s / self.raw_verify_per_s

    @property
    def verify_vs_jwcrypto(self) -> float:
        """(b)/(c): how many times a general JOSE library's rate we reach."""
        return self.verify_per_s / self.jwcrypto_verify_per_s

    def to_json(self) -> dict[str, float | int]:
        """The `healthcode bench --json` object (rates rounded to 0.1/s, ratios to 0.001)."""
        return {
            "raw_verify_per_s": round(self.raw_verify_per_s, 1),
            "verify_per_s": round(self.verify_per_s, 1),
            "jwcrypto_verify_per_s": round(self.jwcrypto_verify_per_s, 1),
            "issue_qr_matrix_per_s": round(self.issue_qr_matrix_per_s, 1),
            "issue_png_per_s": round(self.issue_png_per_s, 1),
            "verify_vs_raw": round(self.verify_vs_raw, 3),
            "verify_vs_jwcrypto": round(self.verify_vs_jwcrypto, 3),
            "tokens": self.tokens,
            "rounds": self.rounds,
        }

    def report(self) -> str:
        """The human-readable table `healthcode bench` prints."""
        return "\n".join(
            [
                f"tokens: {self.tokens} distinct, best of {self.rounds} interleaved rounds",
                f"(a) raw ES256 verify (cryptography)  {self.raw_verify_per_s:10.0f} /s",
                f"(b) verify_credential end to end     {self.verify_per_s:10.0f} /s",
                f"(c) jwcrypto verify + inflate        {self.jwcrypto_verify_per_s:10.0f} /s",
                f"(d) issue: sign + QR matrix          {self.issue_qr_matrix_per_s:10.0f} /s",
                f"(d) issue: sign + PNG                {self.issue_png_per_s:10.0f} /s",
                f"(b)/(a) = {self.verify_vs_raw:.3f}   (goal >= 0.8)",
                f"(b)/(c) = {self.verify_vs_jwcrypto:.3f}   (goal >= 2)",
            ]
        )


def _rate(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    count = run()
    return count / (time.perf_counter() - start)


def es256_verify_rate(seconds: float = 1.0) -> float:
    """One core's raw ES256 verify rate (signatures a second) over about `seconds`.

    A yardstick of the machine, not of our code: a load test records it before and after its
    run, so that runs on two machines, or on a VM that slowed down meanwhile, can be compared.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"healthcode machine yardstick"
    algorithm = ec.ECDSA(SHA256())
    signature = key.sign(message, algorithm)
    public_key = key.public_key()
    verified = 0
    start = time.perf_counter()
    while True:
        for _ in range(100):
            public_key.verify(signature, message, algorithm)
        verified += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return verified / elapsed


def run_benchmark(
    tokens: int = 2000,
    rounds: int = 3,
    issue_count: int = 300,
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """Measure (a)-(d) on `tokens` distinct tokens; each figure is the best of `rounds`."""
    from jwcrypto import jwk as jwcrypto_jwk
    from jwcrypto import jws as jwcrypto_jws

    key = SigningKey.generate()
    now = time.time()
    trust = TrustStore.from_jwks([("cn-bench", jwks_document([key.verifying_key]))])
    samples = [
        sign_credential(
            new_credential(
                issuer="cn-bench",
                subject=f"{_SUBJECT}{i:08d}",
                status=StatusColour.GREEN,
                masked_name="张*丰",
                id_tail="123X",
                now=now,
            ),
            key,
        )
        for i in range(tokens)
    ]
    public_key = key.verifying_key.public_key
    algorithm = ec.ECDSA(SHA256())
    raw_inputs = []
    for token in samples:
        parsed = parse_compact(token)
        signature = parsed.signature
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        raw_inputs.append((der, parsed.signing_input))
    peer_key = jwcrypto_jwk.JWK(**key.verifying_key.to_jwk())

    def raw() -> int:
        for der, signing_input in raw_inputs:
            public_key.verify(der, signing_input, algorithm)
        return len(raw_inputs)

    def ours() -> int:
        for token in samples:
            if not verify_credential(token, trust, now).valid:
                raise RuntimeError("benchmark token failed to verify")
        return len(samples)

    def peer() -> int:
        for token in samples:
            verifier = jwcrypto_jws.JWS()
            verifier.deserialize(token)
            verifier.verify(peer_key, alg="ES256")
            json.loads(zlib.decompress(verifier.objects["payload"], -15))
        return len(samples)

    def issue(render: Callable[[str], object]) -> Callable[[], int]:
        def run() -> int:
            for i in range(issue_count):
                credential = new_credential(
                    issuer="cn-bench",
                    subject=f"{_SUBJECT}{i:08d}",
                    status=StatusColour.GREEN,
                    masked_name="张*丰",
                    id_tail="123X",
                    kind=CodeKind.PHONE,
                    now=now,
                )
                render(encode_numeric(sign_credential(credential, key)))
            return issue_count

        return run

    def matrix(text: str) -> object:
        # Phone codes are shown on screens: a fixed mask is as readable there (§3.3).
        return qr_matrix(text, best_mask=False)

    def png(text: str) -> object:
        return render_png(text, best_mask=False)

    measures: dict[str, Callable[[], int]] = {
        "raw": raw,
        "ours": ours,
        "peer": peer,
        "qr": issue(matrix),
        "png": issue(png),
    }
    best: dict[str, float] = dict.fromkeys(measures, 0.0)
    for round_number in range(rounds):
        # Interleaving the measures spreads any background noise over all of them alike.
        for name, run in measures.items():
            best[name] = max(best[name], _rate(run))
            if progress:
                progress(f"round {round_number + 1}/{rounds}: {name} {best[name]:.0f}/s")
    return BenchResult(
        raw_verify_per_s=best["raw"],
        verify_per_s=best["ours"],
        jwcrypto_verify_per_s=best["peer"],
        issue_qr_matrix_per_s=best["qr"],
        issue_png_per_s=best["png"],
        tokens=tokens,
        rounds=rounds,
    )


def plot(result: BenchResult, path: str | Path) -> Path:
    """Horizontal bars of each rate against the raw-verify floor, as a PNG (Pillow only)."""
    from PIL import Image, ImageDraw

    rows = [
        ("(a) raw ES256 verify", result.raw_verify_per_s, (120, 120, 120)),
        ("(b) verify_credential", result.verify_per_s, (30, 120, 200)),
        ("(c) jwcrypto verify", result.jwcrypto_verify_per_s, (200, 120, 40)),
        ("(d) sign + QR matrix", result.issue_qr_matrix_per_s, (60, 150, 80)),
        ("(d) sign + PNG", result.issue_png_per_s, (60, 150, 80)),
    ]
    width, left, bar_h, gap = 900, 190, 26, 14
    image = Image.new("RGB", (width, 60 + len(rows) * (bar_h + gap)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), "healthcode bench: operations per second (one run, one core)", "black")
    scale = (width - left - 170) / max(rate for _, rate, _ in rows)
    for index, (label, rate, colour) in enumerate(rows):
        y = 40 + index * (bar_h + gap)
        draw.text((10, y + 7), label, "black")
        draw.rectangle((left, y, left + rate * scale, y + bar_h), fill=colour)
        ratio = rate / result.raw_verify_per_s
        draw.text((left + rate * scale + 8, y + 7), f"{rate:,.0f}/s ({ratio:.2f} of a)", "black")
    target = Path(path)
    image.save(target)
    return target
