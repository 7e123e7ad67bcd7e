"""Prometheus metrics of the zone, served as text at the console's ``/metrics``.

Two sources:
* :class:`CallMetrics` is told about every gRPC call by the interceptor (method, status code,
  seconds from the call's start to its audit record): a counter and a latency histogram. One
  observation costs a few microseconds, next to the call's own audit append (~300 us).
* At scrape time, :class:`StateCollector` reads what the zone recorded: jobs by state,
  privacy-budget reservations (charges) by state, alerts by rule and state, and how long one
  read of the state database took.

No label carries a principal, a product's caller, a subject or a value: method names, status
codes, job and charge states and rule names only. Each zone has its own registry (tests run
several zones in one process).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from zone.state.api import State

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

AlertCounts = Callable[[], dict[tuple[str, bool], int]]


class CallMetrics:
    """The registry of one zone and the call metrics the interceptor feeds."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._calls = Counter(
            "zone_rpc_calls",
            "gRPC calls handled by the zone, by method and status code",
            ("method", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "zone_rpc_latency_seconds",
            "Seconds from a call's start to its audit record, by method",
            ("method",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, status: str, seconds: float) -> None:
        """Count one finished call (called by the interceptor, once per audited call).

        The labelled children are looked up once per (method, status) and kept: the label
        lookup is most of prometheus-client's cost per observation.
        """
        children = self._children.get((method, status))
        if children is None:
            children = (self._calls.labels(method, status), self._latency.labels(method))
            self._children[(method, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def add_state(self, store: State, alerts: AlertCounts) -> None:
        """Also report, at each scrape, what the state database holds (see the module doc)."""
        self.registry.register(StateCollector(store, alerts))

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Reads job, charge and alert counts from the state database at scrape time."""

    def __init__(self, store: State, alerts: AlertCounts) -> None:
        self._store = store
        self._alerts = alerts

    def describe(self) -> Iterable[Metric]:
        """No fixed description: the families are built at collection."""
        return []

    def collect(self) -> Iterable[Metric]:
        """Jobs, charges and alerts by state, and the latency of one state read."""
        started = time.perf_counter()
        with self._store.read() as conn:
            jobs = conn.execute("SELECT state, count(*) FROM jobs GROUP BY 1").fetchall()
            charges = conn.execute("SELECT state, count(*) FROM charges GROUP BY 1").fetchall()
        read_seconds = time.perf_counter() - started
        job_family = GaugeMetricFamily("zone_jobs", "Jobs by state", labels=("state",))
        for state, count in jobs:
            job_family.add_metric((str(state),), float(count))
        yield job_family
        charge_family = GaugeMetricFamily(
            "zone_budget_reservations", "Privacy-budget reservations by state", labels=("state",)
        )
        for state, count in charges:
            charge_family.add_metric((str(state),), float(count))
        yield charge_family
        alert_family = GaugeMetricFamily(
            "zone_alerts", "Data-flow alerts by rule and state", labels=("rule", "state")
        )
        for (rule, is_open), count in sorted(self._alerts().items()):
            alert_family.add_metric((rule, "open" if is_open else "acknowledged"), float(count))
        yield alert_family
        yield GaugeMetricFamily(
            "zone_state_read_seconds",
            "Seconds one read transaction of the state database took at this scrape",
            value=read_seconds,
        )
