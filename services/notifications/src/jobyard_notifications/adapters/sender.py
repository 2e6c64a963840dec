"""Sends one attempt of a delivery over HTTP and says how it went, never raising.

Redirects are not followed (a 3xx is a failed attempt: following one would reach an address
nobody checked), proxies from the environment are not used (they would bypass the address
check), the whole exchange has one deadline, and only the first bytes of an answer are read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import httpx

from jobyard_notifications.domain.schedule import is_success
from jobyard_store.webhooks import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from jobyard_webhooks import DestinationPolicy, UnsafeDestinationError, resolve_destination
from jobyard_webhooks.signing import signed_headers

# httpx logs every request's URL at INFO; a webhook URL may carry its owner's token.
logging.getLogger("httpx").setLevel(logging.WARNING)

RESPONSE_PREFIX_BYTES = 1024
USER_AGENT = "Jobyard-Webhooks/1.0"


class WebhookSender:
    def __init__(self, policy: DestinationPolicy, timeout_seconds: float) -> None:
        self._policy = policy
        self._timeout = timeout_seconds
        # No kept-alive connections: requests go to checked addresses, and a connection opened
        # (and TLS-verified) for one host name must never carry another's request to that IP.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=timeout_seconds,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def attempt(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint
    ) -> DeliveryAttempt:
        at = datetime.now(UTC)
        started = time.monotonic()
        status_code: int | None = None
        prefix = b""
        error: str | None = None
        try:
            async with asyncio.timeout(self._timeout):
                status_code, prefix = await self._post(delivery, endpoint, at)
        except UnsafeDestinationError as exc:
            error = str(exc)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency_ms = round((time.monotonic() - started) * 1000)
        if status_code is not None and not is_success(status_code):
            error = f"HTTP {status_code}" + (
                " (redirects are not followed)" if 300 <= status_code < 400 else ""
            )
        return DeliveryAttempt(
            at=at,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            response=prefix.decode(errors="replace"),
        )

    async def _post(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, at: datetime
    ) -> tuple[int, bytes]:
        # Resolved and checked at every attempt (DNS may have changed), then sent to exactly
        # the checked address, with the URL's name as Host and as the TLS server name.
        destination = await resolve_destination(endpoint.url, self._policy)
        headers = signed_headers(endpoint.secret, delivery.id, at, delivery.body)
        headers |= {"host": destination.host_header, "user-agent": USER_AGENT}
        request = self._client.build_request(
            "POST",
            destination.pinned_url,
            content=delivery.body.encode(),
            headers=headers,
            extensions={"sni_hostname": destination.hostname},
        )
        response = await self._client.send(request, stream=True)
        try:
            prefix = b""
            async for chunk in response.aiter_bytes():
                prefix += chunk
                if len(prefix) >= RESPONSE_PREFIX_BYTES:
                    break
            return response.status_code, prefix[:RESPONSE_PREFIX_BYTES]
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self._client.aclose()
