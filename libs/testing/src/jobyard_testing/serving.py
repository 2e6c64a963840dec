"""How the stand-in HTTP servers that tests start as their own processes run and stop."""

from __future__ import annotations

import signal
from http.server import HTTPServer
from typing import NoReturn


def _stop(signum: int, frame: object) -> NoReturn:
    raise SystemExit(0)


def serve_until_stopped(server: HTTPServer, banner: str) -> None:
    """Serve until SIGTERM or Ctrl-C, after printing `banner` (the line a starter waits for)."""
    signal.signal(signal.SIGTERM, _stop)
    print(banner, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
