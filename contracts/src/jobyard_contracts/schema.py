"""JSON Schema and AsyncAPI documents generated from the models, and a compatibility check.

`jobyard-contracts write` refreshes the committed documents; `jobyard-contracts check` fails when
the models changed incompatibly against them (a removed or retyped field, a new required field,
or a removed message) without a version bump and an upcaster.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jobyard_contracts.catalog import MESSAGES, UPCASTERS
from jobyard_contracts.envelope import Envelope, Payload
from jobyard_contracts.routing import WireNames

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
ASYNCAPI_FILE = "asyncapi.json"


def message_schema(model: type[Payload]) -> dict[str, Any]:
    schema = Envelope[model].model_json_schema()  # type: ignore[valid-type]
    schema["title"] = model.__name__
    schema["x-message-type"] = model.TYPE
    schema["x-message-version"] = model.VERSION
    schema["x-message-kind"] = model.KIND
    return schema


def schema_filename(model: type[Payload]) -> str:
    return f"{model.TYPE}.v{model.VERSION}.json"


def asyncapi_document(names: WireNames | None = None) -> dict[str, Any]:
    """AsyncAPI 3.0: one channel per routing key on the topic exchange."""
    names = names or WireNames()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for model in MESSAGES:
        key = model.__name__
        schemas[key] = message_schema(model)
        channels[key] = {
            "address": model.TYPE,
            "description": (model.__doc__ or "").strip(),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": names.exchange, "type": "topic", "durable": True},
                }
            },
        }
        operations[f"publish{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{model.KIND}: {model.TYPE} v{model.VERSION}",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Jobyard messages",
            "version": "1",
            "description": "Every command and event, in one envelope, on one topic exchange.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                key: {"name": key, "payload": {"$ref": f"#/components/schemas/{key}"}}
                for key in schemas
            },
            "schemas": schemas,
        },
    }


def generated_documents() -> dict[str, dict[str, Any]]:
    docs = {schema_filename(m): message_schema(m) for m in MESSAGES}
    docs[ASYNCAPI_FILE] = asyncapi_document()
    return docs


def _payload_props(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    payload_ref = schema["properties"]["payload"]["$ref"].rsplit("/", 1)[-1]
    payload = schema["$defs"][payload_ref]
    return payload.get("properties", {}), set(payload.get("required", []))


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Breaking differences between two schemas of the same message type and version."""
    problems: list[str] = []
    old_props, _ = _payload_props(old)
    new_props, new_required = _payload_props(new)
    for name, spec in old_props.items():
        if name not in new_props:
            problems.append(f"field {name!r} removed")
            continue
        before = {k: v for k, v in spec.items() if k not in ("description", "title", "default")}
        after = {
            k: v for k, v in new_props[name].items() if k not in ("description", "title", "default")
        }
        if before != after:
            problems.append(f"field {name!r} changed from {before} to {after}")
    problems.extend(
        f"new required field {name!r}" for name in sorted(new_required - set(old_props))
    )
    # A value added to an enum is breaking too: a consumer of the old version cannot read it.
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
    for name, spec in old_defs.items():
        if "enum" in spec and spec["enum"] != new_defs.get(name, {}).get("enum"):
            problems.append(f"enum {name} changed from {spec['enum']}")
    return problems


def check_against(directory: Path) -> list[str]:
    """Everything wrong with the current models compared with the committed documents."""
    problems: list[str] = []
    current = {m.TYPE: m for m in MESSAGES}
    for path in sorted(directory.glob("*.v*.json")):
        old = json.loads(path.read_text())
        mtype, old_version = old["x-message-type"], old["x-message-version"]
        model = current.get(mtype)
        if model is None:
            problems.append(f"{mtype}: message removed")
        elif old_version == model.VERSION:
            problems.extend(
                f"{mtype} v{old_version}: {p}"
                for p in incompatibilities(old, message_schema(model))
            )
        elif (mtype, old_version) not in UPCASTERS:
            problems.append(f"{mtype}: version {old_version} -> {model.VERSION} has no upcaster")
    for name, doc in generated_documents().items():
        path = directory / name
        if not path.exists() or json.loads(path.read_text()) != doc:
            problems.append(f"{name} is stale: run `make contracts` and commit the result")
    return problems


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, doc in generated_documents().items():
        (directory / name).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "write":
        write(SCHEMA_DIR)
        print(f"wrote {len(MESSAGES)} message schemas and {ASYNCAPI_FILE} to {SCHEMA_DIR}")
    elif command == "check":
        problems = check_against(SCHEMA_DIR)
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)
    else:
        sys.exit("usage: jobyard-contracts [write|check]")
