"""Every metric follows Prometheus' naming conventions and stays low in cardinality."""

import pytest
from prometheus_client import Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

import jobyard_metrics

pytestmark = pytest.mark.unit

METRICS = {
    name: metric
    for name in jobyard_metrics.__all__
    if isinstance(metric := getattr(jobyard_metrics, name), MetricWrapperBase)
}
PER_ENTITY_LABELS = {"job_id", "user_id", "delivery_id", "endpoint_id", "file_id", "message_id"}


def test_every_exported_metric_is_checked():
    assert set(jobyard_metrics.__all__) - set(METRICS) == {"exposition"}


@pytest.mark.parametrize("metric", METRICS.values(), ids=METRICS.keys())
def test_names_help_and_labels_follow_the_conventions(metric: MetricWrapperBase):
    described = metric.describe()[0]
    assert described.name.startswith("jobyard_")
    assert len(described.documentation) > 20
    assert not set(metric._labelnames) & PER_ENTITY_LABELS
    if isinstance(metric, Histogram):
        assert described.name.endswith("_seconds")  # the base unit
    if isinstance(metric, Gauge):
        assert not described.name.endswith("_total")  # reserved for counters


def test_the_exposition_is_the_text_format():
    body, content_type = jobyard_metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    assert b"# TYPE jobyard_step_duration_seconds histogram" in body
    assert b"# TYPE jobyard_webhook_attempts_total counter" in body
