"""Prometheus metrics of one server, in a registry of its own (several servers may share a process in tests).

Names follow Prometheus conventions: `movierec_` prefix, seconds and bytes as base units, `_total`
for counters. `serve_metrics` exposes the registry over HTTP at `/metrics` on `metrics_address`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

from movierec.diagnostics import MovierecError

# Request latencies span a cached solo answer (a few ms) to a queued batch under overload (seconds).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServerMetrics:
    """The metrics the server records; `registry` is what `/metrics` shows."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu seconds, open fds
        r = self.registry
        self.requests = Counter(
            "movierec_requests", "RPCs answered, by method and status code", ["method", "code"], registry=r
        )
        self.latency = Histogram(
            "movierec_request_duration_seconds",
            "RPC latency as the server sees it",
            ["method", "code"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "movierec_batch_size", "Recommend requests per micro-batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("movierec_queue_depth", "Recommend requests waiting for a batch", registry=r)
        self.shed = Counter(
            "movierec_shed_requests", "Recommend requests refused because the queue was full", registry=r
        )
        self.encode_seconds = Histogram(
            "movierec_encode_seconds", "Encoder time per micro-batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.prompt_cache = Counter(
            "movierec_prompt_cache_lookups", "Moods looked up in the prompt cache, by result", ["result"], registry=r
        )
        self.prompt_cache_bytes = Gauge("movierec_prompt_cache_bytes", "What the prompt cache holds", registry=r)
        self.rank_seconds = Histogram(
            "movierec_rank_seconds",
            "Per micro-batch: understanding, search and ranking (the batch minus the encoder)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.index_info = Gauge(
            "movierec_index_info", "The index version being served (value 1)", ["version"], registry=r
        )
        self.index_load_seconds = Gauge(
            "movierec_index_load_seconds", "How long the serving version took to load", registry=r
        )
        self.index_loaded = Gauge(
            "movierec_index_loaded_timestamp_seconds", "When the serving version was swapped in (Unix time)", registry=r
        )
        self.feedback = Counter(
            "movierec_feedback_writes", "Ratings acknowledged, by whether they were new", ["result"], registry=r
        )
        self.store_errors = Counter("movierec_store_errors", "Ratings store operations that failed", registry=r)
        self.followed = Counter(
            "movierec_store_followed_ratings",
            "Ratings other servers recorded in the shared store, applied here",
            registry=r,
        )

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(depth)

    def served_version(self, version: str, load_seconds: float, loaded_at: float) -> None:
        self.index_info.clear()
        self.index_info.labels(version=version).set(1)
        self.index_load_seconds.set(load_seconds)
        self.index_loaded.set(loaded_at)


def serve_metrics(metrics: ServerMetrics, address: str) -> tuple[WSGIServer, threading.Thread]:
    """Start the `/metrics` HTTP endpoint on host:port (port 0 picks one: `server.server_port`)."""
    host, _, port = address.rpartition(":")
    try:
        return start_http_server(int(port), host.strip("[]") or "127.0.0.1", registry=metrics.registry)
    except (OSError, ValueError) as e:
        raise MovierecError(f"cannot serve metrics on {address!r}: {e}") from None
