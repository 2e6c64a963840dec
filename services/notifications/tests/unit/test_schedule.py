"""Retries follow the schedule, then the delivery fails; failing endpoints are disabled."""

from datetime import UTC, datetime, timedelta

import pytest

from jobyard_notifications.domain.schedule import after_attempt, is_success, should_disable
from jobyard_notifications.settings import DEFAULT_RETRY_SCHEDULE, NotificationsSettings
from jobyard_store.webhooks import DeliveryAttempt, DeliveryStatus

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def attempt(error: str | None = "HTTP 500", status_code: int | None = 500) -> DeliveryAttempt:
    return DeliveryAttempt(at=NOW, status_code=status_code, latency_ms=12, error=error)


def test_the_default_schedule_is_5s_5min_30min_2h_5h_10h() -> None:
    assert NotificationsSettings().retry_schedule == DEFAULT_RETRY_SCHEDULE
    assert DEFAULT_RETRY_SCHEDULE == [5, 300, 1800, 7200, 5 * 3600, 10 * 3600]


def test_a_failed_attempt_is_retried_after_the_scheduled_wait() -> None:
    schedule = DEFAULT_RETRY_SCHEDULE
    waits = [after_attempt(attempt(), tries, schedule) for tries in range(1, len(schedule) + 1)]
    assert all(status is DeliveryStatus.PENDING for status, _ in waits)
    assert [(at - NOW).total_seconds() for _, at in waits if at] == schedule


def test_the_delivery_fails_after_the_last_retry() -> None:
    assert after_attempt(attempt(), 7, DEFAULT_RETRY_SCHEDULE) == (DeliveryStatus.FAILED, None)
    assert after_attempt(attempt(), 2, [1.0]) == (DeliveryStatus.FAILED, None)


@pytest.mark.parametrize(
    ("error", "code"), [(None, 200), ("no answer within 10 s", None), ("ConnectError", None)]
)
def test_success_delivers_and_timeouts_or_connection_errors_retry(
    error: str | None, code: int | None
) -> None:
    status, at = after_attempt(attempt(error, code), 1, [5.0])
    if error is None:
        assert (status, at) == (DeliveryStatus.DELIVERED, None)
    else:
        assert (status, at) == (DeliveryStatus.PENDING, NOW + timedelta(seconds=5))


@pytest.mark.parametrize(
    ("code", "ok"),
    [(200, True), (204, True), (299, True), (301, False), (404, False), (500, False), (199, False)],
)
def test_only_2xx_is_success(code: int, ok: bool) -> None:
    assert is_success(code) is ok


def test_an_endpoint_is_disabled_once_failing_for_the_configured_time() -> None:
    after = timedelta(days=5)
    assert not should_disable(None, NOW, after)
    assert not should_disable(NOW - timedelta(days=4, hours=23), NOW, after)
    assert should_disable(NOW - after, NOW, after)


def test_the_schedule_and_timeouts_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("JOBYARD_NOTIFICATIONS_RETRY_SCHEDULE", "[0.5, 1, 2]")
    monkeypatch.setenv("JOBYARD_NOTIFICATIONS_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("JOBYARD_WEBHOOKS_ALLOWED_NETWORKS", '["127.0.0.0/8"]')
    settings = NotificationsSettings()
    assert settings.retry_schedule == [0.5, 1, 2]
    assert settings.timeout_seconds == 2
    assert [str(n) for n in settings.destinations.allowed_networks] == ["127.0.0.0/8"]
