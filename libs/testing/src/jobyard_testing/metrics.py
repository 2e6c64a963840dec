"""A service's `GET /metrics` as tests read it, parsed by prometheus-client's own parser (so an
exposition Prometheus could not read fails the test as well)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    def __init__(self, text: str) -> None:
        families = list(text_string_to_metric_families(text))
        self.families = {family.name for family in families}
        """Family names as Prometheus knows them (a counter's without its `_total`)."""
        self._samples = [sample for family in families for sample in family.samples]

    def value(self, sample: str, **labels: str) -> float:
        """The sample's value summed over every label set that has `labels` (0 when none)."""
        wanted = labels.items()
        return sum(
            s.value for s in self._samples if s.name == sample and wanted <= s.labels.items()
        )

    def has(self, sample: str, **labels: str) -> bool:
        wanted = labels.items()
        return any(s.name == sample and wanted <= s.labels.items() for s in self._samples)


async def scrape(base_url: str) -> Scrape:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{base_url}/metrics")
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return Scrape(response.text)
