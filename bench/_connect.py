"""What every benchmark needs: its options and a client of a new user of the running stack."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import httpx

from jobyard import create_user


def bench_client(description: str, runs: int) -> tuple[argparse.Namespace, httpx.Client]:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--url", default=os.environ.get("JOBYARD_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args()
    token = (Path(__file__).resolve().parents[1] / "var" / "admin-token").read_text().strip()
    key = create_user(f"bench-{int(time.time())}", token, args.url).api_key
    client = httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    return args, client
