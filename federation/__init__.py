"""`healthcode federation up`: a whole demo federation on this machine, in the foreground.

It creates keys, the registry root and per-service settings under DIR (default ./.demo), then
starts as separate processes: a redis-server (when installed), the trust registry
(`python -m interop`), the provinces cn-sc (510000) and cn-gd (440000) (`python -m issuers`)
and a checkpoint (`python -m verifiers`). It onboards the provinces in the registry over its
admin API, seeds demo citizens with `healthcode issuer seed-demo`, waits until every service
answers /healthz, prints where they are, and stops its children on SIGINT/SIGTERM.

It supervises without cascading: a child that exits is reported on stderr and the others keep
running. `healthcode federation stop NAME` / `start NAME [--clock-offset S]` ask the running
`up` (through DIR/control/) to stop or start one service, e.g. to show that a checkpoint
keeps verifying from its disk cache while the registry is down. DIR/federation.json lists the
children's process ids.

Services are reached only over HTTP or their command lines: nothing here imports interop/,
issuers/ or verifiers/ (import contract in pyproject.toml). The package is a supervisor of
processes, not a part of interop (ADR 0015). Everything listens on 127.0.0.1 and runs in
demo mode (one-time codes printed).
"""

from federation.children import Child, FederationError
from federation.plan import Federation
from federation.up import up

__all__ = ["Child", "Federation", "FederationError", "up"]
