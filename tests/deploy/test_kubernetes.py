"""deploy/kubernetes: every manifest valid against the Kubernetes API schemas (strict: unknown
fields are errors; the schemas ship in the `kubernetes-validate` package, so the check is
offline and pinned by uv.lock), and what the schemas cannot know: every service deployed
once, probes on its health port, resources, matching selectors, only real settings, and the
sandbox hosts' DaemonSet with the node's Docker and job disks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
KUSTOMIZATION = MANIFESTS / "kustomization.yaml"
OLDEST_KUBERNETES = "1.30"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())
WORKLOAD_KINDS = {"Deployment", "DaemonSet"}
CONFIG_MAP = "jobyard-config"
CREDENTIALS = "jobyard-credentials"
SANDBOX_NODE_LABEL = ("jobyard.io/sandbox-host", "true")
DOCKER_SOCKET = "/var/run/docker.sock"


def manifest_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.glob("*.yaml") if p != KUSTOMIZATION)


def load_resources() -> list[dict[str, Any]]:
    return [
        document
        for path in manifest_files()
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


RESOURCES = load_resources()


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in RESOURCES if r["kind"] == kind}


def workloads() -> Iterator[dict[str, Any]]:
    return (r for r in RESOURCES if r["kind"] in WORKLOAD_KINDS)


def containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container of every workload."""
    for workload in workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            yield workload, container


def runs(container: dict[str, Any], script: str) -> bool:
    """Whether the container's command starts `script` (directly or as `sh -c '... exec it'`)."""
    command = " ".join(container.get("command", []))
    return re.search(rf"(?<![\w-]){re.escape(script)}(?![\w-])", command) is not None


@pytest.fixture(scope="module")
def service_containers(services: Any) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) by the Jobyard service the container runs."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for workload, container in containers():
        (name,) = [n for n, s in services.items() if runs(container, s.script)]
        assert name not in found, f"{name} runs in two containers"
        found[name] = (workload, container)
    return found


def config() -> dict[str, str]:
    data: dict[str, str] = named("ConfigMap")[CONFIG_MAP]["data"]
    return data


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == [p.name for p in manifest_files()]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "resource", RESOURCES, ids=[f"{r['kind']}/{r['metadata']['name']}" for r in RESOURCES]
)
def test_manifest_follows_the_kubernetes_schema(resource: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{'.'.join(map(str, error.path))}: {error.message}")


def test_every_service_runs_once_from_one_image(
    services: Any, service_containers: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    assert sorted(service_containers) == sorted(services)
    assert {container["image"] for _, container in containers()} == {"jobyard/service:latest"}


def test_sandbox_hosts_run_per_node_the_others_as_deployments(
    services: Any, service_containers: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    for name, (workload, _) in service_containers.items():
        expected = "DaemonSet" if services[name].per_host else "Deployment"
        assert workload["kind"] == expected, name


def test_every_container_has_probes_and_resources() -> None:
    for workload, container in containers():
        where = f"{workload['metadata']['name']}/{container['name']}"
        assert "livenessProbe" in container, where
        assert "readinessProbe" in container, where
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) >= {"cpu", "memory"}, where


def test_probes_ask_the_health_endpoint_on_its_port(
    services: Any, service_containers: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    for name, (_, container) in service_containers.items():
        ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe not in container:
                continue
            get = container[probe]["httpGet"]
            port = ports.get(get["port"], get["port"])
            assert port == services[name].health_port, f"{name} {probe}"
            assert get["path"] in {"/healthz", "/readyz"}, f"{name} {probe}"


def test_health_endpoints_listen_beyond_loopback(services: Any) -> None:
    """The kubelet probes the pod's address: a service listening on 127.0.0.1 would never be
    ready."""
    for name, service in services.items():
        hosts = {config().get(env) for env in service.health_host_envs}
        assert "0.0.0.0" in hosts, name


def test_selectors_match_their_pods() -> None:
    templates = {
        r["metadata"]["name"]: r["spec"]["template"]["metadata"]["labels"] for r in workloads()
    }
    for workload in workloads():
        selector = workload["spec"]["selector"]["matchLabels"]
        labels = templates[workload["metadata"]["name"]]
        assert selector.items() <= labels.items(), workload["metadata"]["name"]
    for name, service in named("Service").items():
        selected = [
            w
            for w in workloads()
            if service["spec"]["selector"].items() <= templates[w["metadata"]["name"]].items()
        ]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} workloads"
        container_ports = {
            port.get("name")
            for container in selected[0]["spec"]["template"]["spec"]["containers"]
            for port in container["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, name


def test_config_map_holds_only_settings(services: Any) -> None:
    known = frozenset().union(*(s.env_names for s in services.values()))
    assert set(config()) - known == set()


def test_containers_read_only_their_settings_and_the_shared_credentials(
    services: Any, service_containers: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    for name, (_, container) in service_containers.items():
        assert container["envFrom"] == [{"configMapRef": {"name": CONFIG_MAP}}], name
        for variable in container.get("env", []):
            if variable["name"].startswith("JOBYARD_"):
                assert variable["name"] in services[name].env_names, (name, variable["name"])
            secret = variable.get("valueFrom", {}).get("secretKeyRef")
            if secret is not None:
                assert secret["name"] == CREDENTIALS, (name, variable["name"])


def test_sandbox_hosts_share_the_nodes_docker_and_job_disks(
    service_containers: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    daemon_set, manager = service_containers["sandbox-manager"]
    file_sync_pod, file_sync = service_containers["file-sync"]
    assert file_sync_pod is daemon_set, "file-sync runs beside its node's sandbox-manager"
    pod = daemon_set["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == dict([SANDBOX_NODE_LABEL])
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}

    def mount(container: dict[str, Any], path: str) -> dict[str, Any]:
        mounts: list[dict[str, Any]] = container["volumeMounts"]
        (found,) = [m for m in mounts if m["mountPath"] == path]
        # The node's engine is handed these paths: the same on the node and in the pod.
        assert host_paths[found["name"]] == path
        return found

    mount(manager, DOCKER_SOCKET)
    state_dir = config()["JOBYARD_SANDBOX_STATE_DIR"]
    assert mount(manager, state_dir)["mountPropagation"] == "Bidirectional"
    assert manager["securityContext"]["privileged"] is True
    file_sync_mount = mount(file_sync, state_dir)
    assert file_sync_mount["mountPropagation"] == "HostToContainer"
    assert file_sync_mount["readOnly"] is True
    # Both name their host after the node, so they agree on it and it survives restarts.
    for container in (manager, file_sync):
        node = {v["name"]: v.get("valueFrom", {}) for v in container["env"]}["NODE_NAME"]
        assert node == {"fieldRef": {"fieldPath": "spec.nodeName"}}
        assert 'JOBYARD_SANDBOX_HOST_ID="$(printf %s "$NODE_NAME"' in container["command"][-1]
