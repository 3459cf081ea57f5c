"""Top-k selection at partition cost (never a full sort of the catalogue)."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores (float (n,)), best first; ties go to the earlier position.

    The same answer as a stable full sort, at partition cost: everything that ties with the k-th
    best is kept through the partition, then only those are sorted.
    """
    n = len(scores)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, n - k)[n - k]
    contenders = np.flatnonzero(scores >= kth)
    return contenders[np.argsort(-scores[contenders], kind="stable")[:k]]


def top_k_set(scores: np.ndarray, k: int) -> np.ndarray:
    """The positions top_k(scores, k) returns, in no particular order (cheaper: no sort)."""
    n = len(scores)
    if k >= n:
        return np.arange(n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > kth)
    return np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])


def positive_top_k(scores: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    """rows[i] int64 for the k best scores (a,) that are above zero (rows (a,) maps positions to movie rows)."""
    positive = np.flatnonzero(scores > 0)
    return rows[positive[top_k_set(scores[positive], k)]].astype(np.int64)
