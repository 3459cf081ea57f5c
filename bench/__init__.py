"""`make bench`: serving latency and throughput against the encoder's own cost (see run.py).

The console scripts start here, so that a client-only install says which extra they need."""

from __future__ import annotations

from typing import Any

from movierec.extras import launch


def run() -> Any:
    return launch("movierec.bench.run", "eval")


def scale() -> Any:
    return launch("movierec.bench.scale", "eval")


def compare() -> Any:
    return launch("movierec.bench.compare", "eval")


def embedding() -> Any:
    return launch("movierec.bench.embedding", "eval")


def ease() -> Any:
    return launch("movierec.bench.ease_scale", "eval")


def replicas() -> Any:
    return launch("movierec.bench.replicas", "eval")
