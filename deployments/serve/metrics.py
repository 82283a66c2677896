"""The model server's Prometheus metrics, in a registry of its own (so a test's second app starts from zero)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class ServerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "driftloop_serve_requests",
            "Predict requests by outcome.",
            ["dataset", "status", "model_version"],
            registry=r,
        )
        self.latency = Histogram(
            "driftloop_serve_request_seconds",
            "Predict request latency, validation to answer.",
            ["dataset"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.rows = Counter("driftloop_serve_rows", "Records scored.", ["dataset", "model_version"], registry=r)
        self.canary = Counter("driftloop_serve_canary_rows", "Records the canary answered.", ["dataset"], registry=r)
        self.shadow = Counter(
            "driftloop_serve_shadow_rows", "Records the challenger scored in shadow.", ["dataset"], registry=r
        )
        self.swaps = Counter("driftloop_serve_model_swaps", "Models swapped in.", ["dataset", "role"], registry=r)
        self.downloads = Counter(
            "driftloop_serve_model_downloads",
            "Versions downloaded from the registry and verified (a swap to a version in memory downloads none).",
            ["dataset"],
            registry=r,
        )
        self.refused = Counter(
            "driftloop_serve_models_refused",
            "Versions not swapped in (failed hash check or load).",
            ["dataset"],
            registry=r,
        )
        self.flushed = Counter("driftloop_serve_online_rows_landed", "Online rows landed.", ["dataset"], registry=r)
        self.lander_restarts = Counter(
            "driftloop_serve_lander_restarts",
            "Times the online log's lander was found gone and started again.",
            registry=r,
        )
