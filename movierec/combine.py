"""Combine: every signal on one 0..1 scale, weighted, summed; the parts are what a client sees.

A signal is put on the common scale over the request's own candidates:
  - "percentile" signals (dense scores: cosines, EASE, ratings, votes) become their percentile rank
    among the candidates (ties share the average rank): 1 for the best candidate, 0 for the worst.
    Only the order of a signal's values matters, so a long tail or an outlier cannot make one
    signal outweigh the others, and one candidate with an unusual value cannot push every other
    candidate's part towards 0.
  - "share" signals (the tag match, already the share 0..1 of the named tags a movie carries) keep
    their value: a movie with every named tag gets the whole weight, one with none gets 0. A sparse
    signal can therefore add at most its weight, never act as a filter.
A signal that is constant over the candidates (its model knows nothing here) is 0 throughout.
The part of a signal is weight x its 0..1 value, so parts are comparable across signals and
requests: "prompt 0.9 of its 1.0" reads as "near the top of the candidates for the mood".

`calibration="z"` is the earlier z-score combination, kept as a reference for the evaluation.
"""

from __future__ import annotations

import numpy as np

from movierec.signals import BY_NAME


def percentile_ranks(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each row's percentile rank over its valid entries: float32 (R, C) in [0, 1], ties averaged;
    constant rows (and rows with one valid entry) give 0; invalid entries give 0."""
    rows, width = x.shape
    if width == 0:
        return np.zeros(x.shape, np.float32)
    filled = np.where(valid, x, -np.inf)
    order = np.argsort(filled, axis=1)  # ties are averaged below, so the sort need not be stable
    ordered = np.take_along_axis(filled, order, axis=1)
    position = np.broadcast_to(np.arange(width), (rows, width))
    starts_group = np.ones((rows, width), dtype=bool)
    starts_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends_group = np.ones((rows, width), dtype=bool)
    ends_group[:, :-1] = starts_group[:, 1:]
    first = np.maximum.accumulate(np.where(starts_group, position, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends_group, position, width - 1)[:, ::-1], axis=1)[:, ::-1]
    average = np.empty((rows, width), dtype=np.float64)
    np.put_along_axis(average, order, (first + last) / 2.0, axis=1)
    count = valid.sum(axis=1, keepdims=True)
    invalid = width - count                                # they sort first (at -inf)
    out = (average - invalid) / np.maximum(count - 1, 1)
    constant = ~_varies(x, valid)
    return np.where(valid & ~constant[:, None], np.clip(out, 0.0, 1.0), 0.0).astype(np.float32)


def standardise(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """z-score each row of x (R, C) over its valid entries (bool (R, C)); constant rows become 0."""
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    mean = np.where(valid, x, 0).sum(axis=1, keepdims=True) / count
    deviation = np.where(valid, x - mean, 0)
    std = np.sqrt(np.square(deviation).sum(axis=1, keepdims=True) / count)
    return (deviation / np.where(std > 1e-9, std, np.inf)).astype(np.float32)


def _varies(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """bool (R,): whether a row's valid entries are not all equal."""
    high = np.where(valid, x, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(valid, x, np.inf).min(axis=1, initial=np.inf)
    return (high - low) > 1e-9


def calibrate(name: str, x: np.ndarray, valid: np.ndarray, calibration: str = "percentile") -> np.ndarray:
    """A signal's values over the candidates (R, C) on the common scale (see the module docstring)."""
    if calibration == "z":
        return standardise(x, valid)
    if BY_NAME[name].scale == "share":
        return np.where(valid & _varies(x, valid)[:, None], np.clip(x, 0.0, 1.0), 0.0).astype(np.float32)
    return percentile_ranks(x, valid)


def combine(signals: dict[str, np.ndarray], applies: dict[str, np.ndarray], valid: np.ndarray,
            weights: dict[str, float], calibration: str = "percentile") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Weighted sum of the calibrated signals (each (B, C)); a signal counts only for the requests it
    applies to (bool (B,)). Returns (total float32 (B, C), -inf where not valid; parts name -> (B, C))."""
    parts: dict[str, np.ndarray] = {}
    total = np.zeros(valid.shape, dtype=np.float32)
    for name, values in signals.items():
        scale = (applies[name] * weights[name]).astype(np.float32)[:, None]                   # (B, 1)
        parts[name] = calibrate(name, values, valid, calibration) * scale
        total += parts[name]
    return np.where(valid, total, -np.inf).astype(np.float32), parts
