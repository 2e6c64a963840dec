"""Standard Webhooks secrets and signatures (https://www.standardwebhooks.com): a receiver
verifies a delivery with `standardwebhooks.Webhook(secret).verify(body, headers)`."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(secret: str, webhook_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    """The headers of one attempt: the same `webhook-id` on every attempt of a delivery (what
    receivers deduplicate on), the attempt's own timestamp (receivers refuse old ones), and
    `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, sent_at, body),
        "content-type": "application/json",
    }
