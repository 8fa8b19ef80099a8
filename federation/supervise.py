"""Supervision without cascading, and the stop/start requests of `federation stop|start`.

A child that exits is reported once on stderr and the others keep running; requests left in
DIR/control/ by another `healthcode federation` process are carried out between polls.
"""

from __future__ import annotations

import json
import sys
import threading

from federation.children import Child, FederationError, wait_balancer, wait_redis
from federation.plan import Federation
from federation.postgres import wait_postgres

CONTROL_DIR = "control"
CONTROL_TIMEOUT_S = 150.0


def _start_child(federation: Federation, child: Child, *, clock_offset_s: float = 0) -> None:
    child.start(clock_offset_s=clock_offset_s)
    if child is federation.redis:
        wait_redis(child)
    elif child is federation.balancer:
        wait_balancer(child)
    elif child is federation.postgres:
        wait_postgres(federation.postgres_url or "")
    else:
        child.wait_healthy()


def _serve_control(federation: Federation, stopped: set[str]) -> None:
    """Carry out stop/start requests left in DIR/control/ by `federation stop|start`."""
    folder = federation.directory / CONTROL_DIR
    for request_path in sorted(folder.glob("*.request.json")):
        done_path = request_path.with_name(request_path.name.replace(".request", ".done"))
        try:
            request = json.loads(request_path.read_text())
            child = federation.child(str(request["service"]))
            if child is None:
                raise FederationError(f"no service {request['service']!r} in this federation")
            if request["action"] == "stop":
                child.stop()
                stopped.add(child.name)
                message = f"{child.name} stopped"
            elif request["action"] == "start":
                if child.running():
                    child.stop()
                _start_child(federation, child, clock_offset_s=float(request.get("clock", 0)))
                stopped.discard(child.name)
                message = f"{child.name} started at {child.url or '-'}"
            else:
                raise FederationError(f"unknown action {request['action']!r}")
            answer = {"ok": True, "message": message}
        except Exception as exc:
            # Whatever went wrong, the request is answered as failed and the supervisor goes
            # on: an exception escaping here would stop every service of the federation.
            answer = {"ok": False, "message": f"{type(exc).__name__}: {exc}"}
        request_path.unlink(missing_ok=True)
        done_path.write_text(json.dumps(answer))
        print(f"healthcode federation: {answer['message']}", file=sys.stderr, flush=True)
        federation.write_pids()


def supervise(federation: Federation, stop: threading.Event) -> None:
    """Until `stop`: report children that exit (once each) and keep the others running."""
    stopped: set[str] = set()  # stopped on request: not reported as crashed
    reported: set[str] = set()
    (federation.directory / CONTROL_DIR).mkdir(parents=True, exist_ok=True)
    federation.write_pids()
    while not stop.wait(0.5):
        _serve_control(federation, stopped)
        for child in federation.children():
            if child.name in stopped or child.running():
                reported.discard(child.name)
                continue
            if child.name not in reported:
                reported.add(child.name)
                code = child.process.returncode if child.process else None
                print(
                    f"healthcode federation: {child.name} exited (status {code}); the others "
                    f"keep running. Log: {child.log_path}; restart it with `healthcode "
                    f"federation start {child.name} --dir {federation.directory}`",
                    file=sys.stderr,
                    flush=True,
                )
                federation.write_pids()
