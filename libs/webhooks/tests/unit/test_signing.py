"""Deliveries verify with the Standard Webhooks reference library, as receivers do."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from jobyard_webhooks import new_secret, signed_headers

pytestmark = pytest.mark.unit

BODY = '{"type":"job.completed","timestamp":"2026-05-01T12:00:00.000Z","data":{}}'


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_a_signed_delivery_verifies_with_standardwebhooks() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_abc", datetime.now(UTC), BODY)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "job.completed",
        "timestamp": "2026-05-01T12:00:00.000Z",
        "data": {},
    }


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace("completed", "failed")),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
)
def test_a_changed_body_id_or_timestamp_does_not_verify(tamper) -> None:
    secret = new_secret()
    headers, body = tamper(signed_headers(secret, "msg_abc", datetime.now(UTC), BODY), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_another_secret_or_an_old_timestamp_does_not_verify() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_abc", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    stale = signed_headers(secret, "msg_abc", datetime.now(UTC) - timedelta(minutes=6), BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, stale)


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    import hashlib
    import hmac

    secret = new_secret()
    at = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    headers = signed_headers(secret, "msg_abc", at, BODY)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"msg_abc.{int(at.timestamp())}.{BODY}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert headers["webhook-signature"] == f"v1,{expected}"
