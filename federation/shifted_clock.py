"""`python -m federation.shifted_clock MODULE`: run a service with its wall clock shifted.

For demonstrations and tests of standard §7.5 only: it simulates a device whose clock was set
back (or forward) by `HC_FEDERATION_CLOCK_OFFSET_S` seconds, the way `faketime` would, by
shifting `time.time` before the service module starts. `healthcode federation start NAME
--clock-offset S` uses it; nothing in production does.
"""

from __future__ import annotations

import os
import runpy
import sys
import time

__all__ = ["main"]


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m federation.shifted_clock MODULE")
    offset = float(os.environ.get("HC_FEDERATION_CLOCK_OFFSET_S", "0"))
    real_time, real_time_ns = time.time, time.time_ns
    time.time = lambda: real_time() + offset
    time.time_ns = lambda: real_time_ns() + int(offset * 1e9)
    module = sys.argv[1]
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
