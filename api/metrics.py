"""Prometheus metrics: HTTP traffic per route, activation outcomes, and jobs/webhooks/CPEs by state read
from the database at scrape time (so they are right whichever process ran the jobs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from provisioner.store.db import Database
from provisioner.store.models import Cpe, Job, Webhook

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StateCollector(Collector):
    def __init__(self, db: Callable[[], Database]):
        self.db = db

    def collect(self) -> Iterator[Metric]:
        db = self.db()
        for name, doc, column in (
            ("hikari_jobs", "Jobs by state", Job.state),
            ("hikari_webhooks", "Webhook deliveries by state", Webhook.state),
            ("hikari_cpes", "CPEs by status", Cpe.status),
        ):
            family = GaugeMetricFamily(name, doc, labels=["state"])
            with db.read() as s:
                for state, count in s.execute(select(column, func.count()).group_by(column)):
                    family.add_metric([state], count)
            yield family


class Metrics:
    def __init__(self, db: Callable[[], Database]):
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("hikari_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("hikari_http_request_duration_seconds", "HTTP request latency", ["route"],
                                 buckets=BUCKETS, registry=self.registry)
        self.activations = Counter("hikari_activations", "Activation requests by outcome", ["outcome"],
                                   registry=self.registry)
        self.registry.register(StateCollector(db))

    def render(self) -> bytes:
        return generate_latest(self.registry)
