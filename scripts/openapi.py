"""Write or check the committed OpenAPI document of the gateway (docs/openapi.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jobyard_gateway.app import create_app

TARGET = Path(__file__).resolve().parents[1] / "services" / "gateway" / "openapi.json"


def document() -> str:
    schema = create_app().openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> int:
    if sys.argv[1:] == ["write"]:
        TARGET.write_text(document())
        print(f"wrote {TARGET}")
        return 0
    if not TARGET.exists() or TARGET.read_text() != document():
        print(f"{TARGET} is stale: run `make contracts` and commit it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
