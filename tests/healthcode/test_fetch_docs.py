"""docs/peer-bounds.md tables exactly the bounds `healthcode.fetch.PEER_BOUNDS` holds."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from healthcode.fetch import KIB, MIB, PEER_BOUNDS, ReadBounds

DOC = Path(__file__).parents[2] / "docs" / "peer-bounds.md"
_ROW = re.compile(r"^\| [^|]+ \| `(\w+)` \| (\d+) (KiB|MiB) \| ([\d.]+) s \| (\d+) \|$", re.M)


def test_the_table_matches_the_data() -> None:
    tabled = {
        name: ReadBounds(int(size) * (KIB if unit == "KiB" else MIB), float(deadline), int(depth))
        for name, size, unit, deadline, depth in _ROW.findall(DOC.read_text())
    }
    assert tabled == {f.name: getattr(PEER_BOUNDS, f.name) for f in dataclasses.fields(PEER_BOUNDS)}
