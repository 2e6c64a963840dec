"""What every benchmark needs: its options, a client of a new user of the running stack, and
its results as a table (printed, and appended as Markdown to `--markdown FILE`)."""

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
    parser.add_argument(
        "--markdown", type=Path, default=None, help="append the results as Markdown to this file"
    )
    args = parser.parse_args()
    token = (Path(__file__).resolve().parents[1] / "var" / "admin-token").read_text().strip()
    key = create_user(f"bench-{int(time.time())}", token, args.url).api_key
    client = httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    return args, client


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_table(
    title: str, header: list[str], rows: list[list[str]], markdown: Path | None
) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for row in (header, *rows):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if markdown is not None:
        lines = [f"\n**{title}**\n", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join(" --- " for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        with markdown.open("a") as out:
            out.write("\n".join(lines) + "\n")
