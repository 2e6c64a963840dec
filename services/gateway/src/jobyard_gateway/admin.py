"""`jobyard-admin`: operator commands run next to the gateway (they talk to MongoDB directly)."""

from __future__ import annotations

import asyncio

import typer
from pymongo.errors import DuplicateKeyError

from jobyard_gateway.adapters.users import UserStore
from jobyard_settings import InfraSettings
from jobyard_store import connect

cli = typer.Typer(help="Jobyard operator commands.", no_args_is_help=True)
users_cli = typer.Typer(help="Users and API keys.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")


def create_user_key(name: str, infra: InfraSettings | None = None) -> tuple[str, str]:
    """Create a user; returns its id and API key (shown once; only its hash is stored)."""

    async def run() -> tuple[str, str]:
        client, db = connect(infra or InfraSettings())
        try:
            store = UserStore(db)
            await store.ensure_indexes()
            user, key = await store.create(name)
            return user.id, key
        finally:
            await client.close()

    return asyncio.run(run())


@users_cli.command("create")
def create_user(
    name: str, key_only: bool = typer.Option(False, help="Print only the key.")
) -> None:
    """Create a user and print its API key."""
    try:
        user_id, key = create_user_key(name)
    except DuplicateKeyError:
        raise typer.BadParameter(f"a user named {name!r} already exists") from None
    typer.echo(key if key_only else f"user {name} ({user_id})\napi key: {key}")
