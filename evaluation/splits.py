"""Temporal splits (the indexer's learned ranker uses the same one: movierec.splits)."""

from __future__ import annotations

from movierec.splits import temporal_split

__all__ = ["temporal_split"]
