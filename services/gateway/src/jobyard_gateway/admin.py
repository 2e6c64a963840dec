"""`jobyard-admin`: operator commands run next to the gateway (they talk to MongoDB directly)."""

from __future__ import annotations

import asyncio

import typer

from jobyard_gateway.adapters.users import UserStore
from jobyard_settings import InfraSettings
from jobyard_store import connect

cli = typer.Typer(help="Jobyard operator commands.", no_args_is_help=True)
users_cli = typer.Typer(help="Users and API keys.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")


@users_cli.command("create")
def create_user(
    name: str, key_only: bool = typer.Option(False, help="Print only the key.")
) -> None:
    """Create a user and print its API key (shown once; only its hash is stored)."""

    async def run() -> tuple[str, str]:
        client, db = connect(InfraSettings())
        try:
            store = UserStore(db)
            await store.ensure_indexes()
            user, key = await store.create(name)
            return user.id, key
        finally:
            await client.close()

    user_id, key = asyncio.run(run())
    typer.echo(key if key_only else f"user {name} ({user_id})\napi key: {key}")
