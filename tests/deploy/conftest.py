"""What the deployment files are checked against, read from the code so the checks cannot go
stale: each service's settings class (the environment variables it reads, its health
endpoint, whether it belongs to one sandbox host) and its console script."""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Service:
    script: str
    """The console script that runs it, e.g. `jobyard-sandbox-manager`."""
    settings: type[BaseSettings]
    env_names: frozenset[str]
    """Every environment variable its settings read (upper case)."""
    health_host_envs: frozenset[str]
    """Where the address of its health endpoint (the API's, for the gateway) is read from."""
    health_port: int
    per_host: bool
    """One per sandbox host (its settings name the host), never scaled."""


def env_names(settings: type[BaseSettings]) -> frozenset[str]:
    """The variables a settings class reads, nested settings classes included (each nested
    one reads its own prefix, as it is built by its own default factory)."""
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= env_names(annotation)
        else:
            names |= field_env_names(settings, field_name)
    return frozenset(names)


def field_env_names(settings: type[BaseSettings], field_name: str) -> frozenset[str]:
    """The variables one field is read from: its aliases, or the class's prefix + its name."""
    alias = settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return frozenset(c.upper() for c in alias.choices if isinstance(c, str))
    if isinstance(alias, str):
        return frozenset({alias.upper()})
    prefix = str(settings.model_config.get("env_prefix", ""))
    return frozenset({f"{prefix}{field_name}".upper()})


def _root_settings(module_name: str) -> type[BaseSettings]:
    """The service's own settings class: the one holding the shared infrastructure settings."""
    module = importlib.import_module(module_name)
    roots = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module_name
        and "infra" in value.model_fields
    ]
    assert len(roots) == 1, f"{module_name} should define one settings class with `infra`"
    return roots[0]


def _service(folder: Path) -> Service:
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    (script,) = project["project"]["scripts"]
    settings = _root_settings(f"jobyard_{folder.name.replace('-', '_')}.settings")
    fields = settings.model_fields
    host_field, port_field = (
        ("health_host", "health_port") if "health_port" in fields else ("host", "port")
    )
    return Service(
        script=script,
        settings=settings,
        env_names=env_names(settings),
        health_host_envs=field_env_names(settings, host_field),
        health_port=int(fields[port_field].default),
        per_host="host_id" in fields,
    )


@pytest.fixture(scope="session")
def services() -> dict[str, Service]:
    """Every service under services/, by folder name."""
    folders = sorted(p.parent for p in (REPO / "services").glob("*/pyproject.toml"))
    return {folder.name: _service(folder) for folder in folders}
