"""`jobyard webhooks ...` and `jobyard notifications ...`: subscribe your systems to your jobs'
events, see how deliveries went, and read what the app tells you."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from jobyard._cli import JsonOption, client, emit, errors_as_messages, out
from jobyard.models import Webhook

webhooks = typer.Typer(
    help="Webhooks: your jobs' events POSTed to your URL, signed the Standard Webhooks way. "
    "Without a command, lists them."
)
notifications = typer.Typer(
    help="In-app notifications: jobs that ended, ask for input or paused at their session "
    "limit, webhooks disabled. Without a command, lists them."
)

WebhookId = Annotated[str, typer.Argument(help="The webhook's id.")]
EventOption = Annotated[
    list[str] | None,
    typer.Option("--event", "-e", help="An event type to deliver, e.g. job.completed; repeatable."),
]


@webhooks.callback(invoke_without_command=True)
def list_webhooks(context: typer.Context, as_json: JsonOption = False) -> None:
    if context.invoked_subcommand is not None:
        return
    with errors_as_messages():
        found = client().webhooks.list()

    def table() -> None:
        grid = Table()
        for title in ("id", "url", "events", "enabled", "description"):
            grid.add_column(title)
        for hook in found:
            state = "yes" if hook.enabled else f"no: {hook.disabled_reason or 'by you'}"
            events = ", ".join(hook.event_types)
            grid.add_row(hook.id, Text(hook.url), events, Text(state), Text(hook.description))
        out.print(grid)

    emit(found, as_json, table)


def show(hook: Webhook, as_json: bool) -> None:
    def human() -> None:
        out.print(Text.assemble((hook.id, "bold"), f"  {hook.url}"))
        out.print(f"  events: {', '.join(hook.event_types)}")
        if not hook.enabled:
            out.print(Text(f"  disabled: {hook.disabled_reason or 'by you'}", style="yellow"))
        if hook.secret:
            out.print(f"  secret: {hook.secret}  (shown once: keep it to verify deliveries)")

    emit(hook, as_json, human)


@webhooks.command()
def create(
    url: Annotated[str, typer.Argument(help="Where deliveries are POSTed.")],
    event: EventOption = None,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Subscribe a URL (to every event type unless --event is given); prints its secret."""
    with errors_as_messages():
        show(client().webhooks.create(url, event or None, description), as_json)


@webhooks.command()
def get(webhook_id: WebhookId, as_json: JsonOption = False) -> None:
    """Show a webhook."""
    with errors_as_messages():
        show(client().webhooks.get(webhook_id), as_json)


@webhooks.command()
def update(
    webhook_id: WebhookId,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    event: EventOption = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn deliveries on or off.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a webhook."""
    with errors_as_messages():
        changed = client().webhooks.update(
            webhook_id, url=url, event_types=event or None, description=description, enabled=enabled
        )
    show(changed, as_json)


@webhooks.command()
def delete(webhook_id: WebhookId) -> None:
    """Delete a webhook and its deliveries."""
    with errors_as_messages():
        client().webhooks.delete(webhook_id)
    out.print(f"deleted {webhook_id}")


@webhooks.command("rotate-secret")
def rotate_secret(webhook_id: WebhookId, as_json: JsonOption = False) -> None:
    """A new signing secret (printed once); the old one stops verifying at once."""
    with errors_as_messages():
        show(client().webhooks.rotate_secret(webhook_id), as_json)


@webhooks.command()
def deliveries(
    webhook_id: WebhookId,
    status: Annotated[
        str | None, typer.Option(help="Only pending, delivered or failed ones.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """A webhook's deliveries, newest first, with their last attempt."""
    with errors_as_messages():
        found = client().webhooks.deliveries(webhook_id, status, limit)

    def table() -> None:
        grid = Table()
        for title in ("id (webhook-id)", "event", "job", "status", "attempts", "last"):
            grid.add_column(title)
        for item in found:
            last = item.attempts[-1] if item.attempts else None
            outcome = "" if last is None else (last.error or f"HTTP {last.status_code}")
            if last is not None:
                outcome += f" in {last.latency_ms} ms"
            grid.add_row(
                item.id,
                item.event_type,
                item.job_id,
                item.status,
                str(len(item.attempts)),
                Text(outcome),
            )
        out.print(grid)

    emit(found, as_json, table)


@webhooks.command()
def retry(
    webhook_id: WebhookId,
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id (its webhook-id).")],
) -> None:
    """Send a delivery again now."""
    with errors_as_messages():
        again = client().webhooks.retry(webhook_id, delivery_id)
    out.print(f"{again.id}: {again.status}")


@webhooks.command()
def replay(
    webhook_id: WebhookId,
    since: Annotated[str, typer.Option(help="ISO 8601 time, e.g. 2026-05-01T00:00:00Z.")],
    as_json: JsonOption = False,
) -> None:
    """Resend every wanted event since a time (already sent ones keep their webhook-id)."""
    with errors_as_messages():
        result = client().webhooks.replay(webhook_id, since)

    def human() -> None:
        out.print(f"{result.events} events queued")
        if result.more:
            out.print(
                f"more follow: replay again with --since {result.next_since:%Y-%m-%dT%H:%M:%S.%fZ}"
            )

    emit(result, as_json, human)


@notifications.callback(invoke_without_command=True)
def list_notifications(
    context: typer.Context,
    unread: Annotated[bool, typer.Option("--unread", help="Only those not read yet.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    if context.invoked_subcommand is not None:
        return
    with errors_as_messages():
        found = client().notifications.list(unread=unread, limit=limit)

    def lines() -> None:
        for notice in found:
            mark = " " if notice.read else "•"
            out.print(
                Text.assemble(
                    f"{mark} {notice.created_at:%Y-%m-%d %H:%M}  ",
                    (notice.title, "bold"),
                    f"  {notice.message}" if notice.message else "",
                    f"  ({notice.id})",
                )
            )

    emit(found, as_json, lines)


@notifications.command()
def read(notification_id: Annotated[str, typer.Argument(help="The notification's id.")]) -> None:
    """Mark a notification read."""
    with errors_as_messages():
        client().notifications.read(notification_id)
    out.print(f"read {notification_id}")


@notifications.command("read-all")
def read_all() -> None:
    """Mark every notification read."""
    with errors_as_messages():
        marked = client().notifications.read_all()
    out.print(f"{marked} marked read")
