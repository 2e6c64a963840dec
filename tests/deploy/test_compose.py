"""compose/docker-compose.yml: valid Compose, every service with the real infrastructure,
scalable workers, one sandbox host's pair, and only settings the services read.

No Compose CLI is installed on the build machines, so the file is checked against the
Compose Specification's JSON Schema, vendored as `compose-spec.json` (compose-spec/compose-spec
at 170098ba07d9f53c383a41bfd4c5166b0a4529a6, Apache-2.0), plus what the schema cannot know.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")
INFRASTRUCTURE_IMAGES = {"mongo": "mongo:", "rabbitmq": "rabbitmq:", "nats": "nats:"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # PyYAML resolves the `<<` merge keys the same way Compose does.
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


@pytest.fixture(scope="module")
def jobyard_services(compose: dict[str, Any], services: Any) -> dict[str, dict[str, Any]]:
    """Compose service definitions by the Jobyard service they run."""
    by_script = {service.script: name for name, service in services.items()}
    found: dict[str, dict[str, Any]] = {}
    for definition in compose["services"].values():
        command = definition.get("command") or []
        if command and command[0] in by_script:
            name = by_script[command[0]]
            assert name not in found, f"{name} is defined twice"
            found[name] = definition
    return found


def environment(definition: dict[str, Any]) -> dict[str, Any]:
    env = definition.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping throughout"
    return env


def test_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, error.path))}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(compose)
    ]
    assert errors == []


def test_runs_every_service(
    services: Any, jobyard_services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    assert sorted(jobyard_services) == sorted(services)
    image = compose["x-service"]["image"]
    assert {d["image"] for d in jobyard_services.values()} == {image}


def test_runs_the_real_infrastructure(
    compose: dict[str, Any], jobyard_services: dict[str, dict[str, Any]]
) -> None:
    definitions = compose["services"]
    for name, image in INFRASTRUCTURE_IMAGES.items():
        assert definitions[name]["image"].startswith(image)
    assert definitions["minio"]["image"].startswith("minio/minio")
    # Retryable writes and change streams need a replica set, even of one node.
    assert "--replSet" in definitions["mongo"]["command"]
    assert "-js" in definitions["nats"]["command"]
    for definition in jobyard_services.values():
        assert "replicaSet=" in environment(definition)["JOBYARD_MONGODB_URL"]
        assert definition["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_workers_scale_and_sandbox_hosts_do_not(
    services: Any, jobyard_services: dict[str, dict[str, Any]]
) -> None:
    """`--scale agent=3` needs no fixed name or host port; a second sandbox-manager or
    file-sync on one Docker host is refused by their fixed container names."""
    for name, definition in jobyard_services.items():
        if services[name].per_host:
            assert "container_name" in definition, name
        else:
            assert "container_name" not in definition, name
            assert "hostname" not in definition, name
    publishing = {name for name, d in jobyard_services.items() if d.get("ports")}
    assert publishing == {"gateway"}


def test_sandbox_host_pair_shares_host_id_docker_and_disks(
    services: Any, jobyard_services: dict[str, dict[str, Any]]
) -> None:
    manager, file_sync = jobyard_services["sandbox-manager"], jobyard_services["file-sync"]
    host_id = environment(manager)["JOBYARD_SANDBOX_HOST_ID"]
    assert environment(file_sync)["JOBYARD_SANDBOX_HOST_ID"] == host_id
    assert "/var/run/docker.sock:/var/run/docker.sock" in manager["volumes"]
    assert manager["privileged"] is True
    state_dir = str(services["sandbox-manager"].settings.model_fields["state_dir"].default)

    def state_mount(definition: dict[str, Any]) -> dict[str, Any]:
        (mount,) = [v for v in definition["volumes"] if isinstance(v, dict)]
        # The engine bind-mounts job disks by their host path: the same path on both sides.
        assert mount["source"] == mount["target"] == state_dir
        return mount

    assert state_mount(manager)["bind"]["propagation"] == "rshared"
    file_sync_mount = state_mount(file_sync)
    assert file_sync_mount["read_only"] is True
    assert file_sync_mount["bind"]["propagation"] == "rslave"


def test_environment_holds_only_settings_of_its_service(
    services: Any, jobyard_services: dict[str, dict[str, Any]]
) -> None:
    for name, definition in jobyard_services.items():
        unknown = {
            key
            for key in environment(definition)
            if key.startswith("JOBYARD_") and key.upper() not in services[name].env_names
        }
        assert unknown == set(), f"{name} is given settings it does not read"


def test_health_endpoints_are_reachable_and_checked(
    services: Any, jobyard_services: dict[str, dict[str, Any]]
) -> None:
    for name, definition in jobyard_services.items():
        service = services[name]
        hosts = {environment(definition).get(env) for env in service.health_host_envs}
        assert "0.0.0.0" in hosts, f"{name} must listen beyond loopback"
        check = " ".join(definition["healthcheck"]["test"])
        ports = {int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)/", check)}
        assert ports == {service.health_port}, name
