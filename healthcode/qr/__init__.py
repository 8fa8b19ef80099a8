"""QR transport of a credential: the `hc:/` numeric codec, rendering, image decoding (standard §3).

A credential is a compact JWS (characters `A-Z a-z 0-9 - _ .`). It travels in ONE QR code as
`hc:/` followed by the SMART Health Cards numeric encoding: each character `c` becomes the two
decimal digits `ord(c) - 45` (`'-'` → `00`, `'.'` → `01`, `'z'` → `77`). SMART Health Cards use the
same encoding after `shc:/`, plus a deprecated multi-part form `shc:/<i>/<n>/<digits>` (1-based
part `i` of `n`; the JWS is the concatenation of the decoded parts in order).

The QR holds two segments: the prefix (and chunk header) in byte mode and the digits in numeric
mode, which packs 10 bits per 3 digits instead of 8 bits per character. Error correction defaults
to level M and the quiet zone to 4 modules.

Untrusted input (`decode_numeric`, `reassemble_chunks`, `decode_image`) fails with a
`VerificationError` carrying its `ErrorCode`; misuse of the encoding side (`encode_numeric`,
`qr_code` and the renderers) raises `ValueError`.
"""

from healthcode.qr.chunks import is_chunk, parse_chunk, reassemble_chunks
from healthcode.qr.codec import HC_PREFIX, SHC_PREFIX, decode_numeric, encode_numeric
from healthcode.qr.read import MAX_IMAGE_PIXELS, decode_image
from healthcode.qr.render import qr_code, qr_matrix, render_png, render_svg, render_terminal

__all__ = [
    "HC_PREFIX",
    "MAX_IMAGE_PIXELS",
    "SHC_PREFIX",
    "decode_image",
    "decode_numeric",
    "encode_numeric",
    "is_chunk",
    "parse_chunk",
    "qr_code",
    "qr_matrix",
    "reassemble_chunks",
    "render_png",
    "render_svg",
    "render_terminal",
]
