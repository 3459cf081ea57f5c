"""Ranking metrics over lists of movie rows (best first)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def recall_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(1 for m in ranked[:k] if m in relevant) / len(relevant) if relevant else 0.0


def precision_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(1 for m in ranked[:k] if m in relevant) / k


def ndcg_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Binary-relevance NDCG@k; the ideal list puts min(k, |relevant|) relevant movies first."""
    dcg = sum(1.0 / math.log2(i + 2) for i, m in enumerate(ranked[:k]) if m in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def hit_at(ranked: Sequence[int], target: int, k: int) -> float:
    return 1.0 if target in ranked[:k] else 0.0


def reciprocal_rank(ranked: Sequence[int], target: int) -> float:
    """1/rank of the target within the list, 0 when it is not in the list (MRR@len(list))."""
    for i, m in enumerate(ranked):
        if m == target:
            return 1.0 / (i + 1)
    return 0.0
