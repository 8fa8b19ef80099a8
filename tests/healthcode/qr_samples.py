"""Inputs for the QR tests: published SHC vectors, JWS-shaped text, PNG headers, error checks."""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from healthcode.errors import ErrorCode, VerificationError

SHC_VECTORS = Path(__file__).parent.parent / "vectors" / "shc"
JWS_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
B64URL = JWS_ALPHABET[:-1]


def vector(name: str) -> str:
    return (SHC_VECTORS / name).read_text(encoding="ascii").strip()


def fake_jws(length: int, seed: int = 0) -> str:
    """A JWS-shaped string (header.payload.signature) of exactly `length` characters."""
    rng = random.Random(seed)
    body = "".join(rng.choice(B64URL) for _ in range(length - 2))
    return f"{body[:40]}.{body[40:-86]}.{body[-86:]}"


def expect_error(code: ErrorCode, call: Callable[[], object]) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        call()
    assert info.value.code is code, info.value
    return info.value


def png_with_size(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims `width` x `height` (pixel data is not there to match)."""
    out = io.BytesIO()
    Image.new("1", (8, 8), 1).save(out, format="PNG")
    data = bytearray(out.getvalue())
    assert data[12:16] == b"IHDR"
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


SHC_EXAMPLE_02_PARTS = [vector(f"example-02-f-qr-code-numeric-value-{i}.txt") for i in range(3)]
