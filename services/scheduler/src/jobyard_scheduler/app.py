"""The scheduler process: `jobyard-scheduler`."""

from __future__ import annotations

from datetime import timedelta

from jobyard_scheduler import handlers, job_counts
from jobyard_scheduler.adapters.slots import SlotLedger
from jobyard_scheduler.lost_host_watch import LostHostWatch
from jobyard_scheduler.settings import SchedulerSettings
from jobyard_worker import Worker


def create_worker(settings: SchedulerSettings | None = None) -> Worker:
    settings = settings or SchedulerSettings()
    worker = Worker("scheduler", settings.infra)
    slots = SlotLedger(worker.db, settings.max_concurrent_jobs_per_user)
    handlers.register(worker, slots, settings.requeue_interval_seconds)
    worker.every(job_counts.COUNT_SECONDS, lambda: job_counts.count_jobs(worker.jobs))
    watch = LostHostWatch(worker, timedelta(seconds=settings.host_lost_seconds))
    worker.every(settings.requeue_interval_seconds, watch.check_once)
    return worker


def main() -> None:
    settings = SchedulerSettings()
    create_worker(settings).run(settings.health_host, settings.health_port)
