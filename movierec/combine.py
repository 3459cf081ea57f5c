"""Combine: every signal on a common scale, weighted, summed; the parts are what a client sees.

calibration "standard" (the default):
  - "share" signals (the tag match: the share 0..1 of the named tags a movie carries) keep their
    value, so a movie with every named tag gets the whole weight and one with none gets 0: a sparse
    signal adds at most its weight and can no longer act as a filter (z-scored over candidates of
    which few carry the tag, it used to reach 20 standard deviations and decide the list alone);
  - every other (dense) signal is standardised over the request's candidates (z-score): its part
    is weight x "standard deviations above the candidates' mean", so a share of 1 weighs like one
    standard deviation of a dense signal.
  - a signal that is constant over the candidates (its model knows nothing here) is 0 throughout.
"percentile" puts dense signals at their percentile rank among the candidates instead (ties
averaged); it throws away how far ahead a top candidate is, which the evaluation measured to cost
ranking quality (reports/eval.md, ablations). "z" z-scores every signal, the tag match too: the
previous release's combination, kept as a reference for the evaluation.
"""

from __future__ import annotations

import numpy as np

from movierec import signals as registry


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
    invalid = width - count  # they sort first (at -inf)
    out = (average - invalid) / np.maximum(count - 1, 1)
    constant = ~_varies(x, valid)
    return np.where(valid & ~constant[:, None], np.clip(out, 0.0, 1.0), 0.0).astype(np.float32)


def standardise(x: np.ndarray, valid: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """z-score each row of x (..., R, C) over its valid entries (bool (R, C)); constant rows become 0.
    Several signals stacked as (S, R, C) are standardised in one pass. `reference` (bool (R, C), within
    valid): the entries whose mean and deviation set the scale (None: the valid ones)."""
    reference = valid if reference is None else reference
    count = np.maximum(reference.sum(axis=-1, keepdims=True), 1)
    mean = np.where(reference, x, 0).sum(axis=-1, keepdims=True) / count
    std = np.sqrt(np.square(np.where(reference, x - mean, 0)).sum(axis=-1, keepdims=True) / count)
    deviation = np.where(valid, x - mean, 0)
    return (deviation / np.where(std > 1e-9, std, np.inf)).astype(np.float32)


def _varies(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """bool (R,): whether a row's valid entries are not all equal."""
    high = np.where(valid, x, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(valid, x, np.inf).min(axis=1, initial=np.inf)
    return (high - low) > 1e-9


def calibrate(
    name: str, x: np.ndarray, valid: np.ndarray, calibration: str = "standard", reference: np.ndarray | None = None
) -> np.ndarray:
    """A signal's values over the candidates (R, C) on the common scale (see the module docstring);
    `reference` as for standardise."""
    if registry.by_name(name).scale == "share" and calibration != "z":
        return np.where(valid & _varies(x, valid)[:, None], np.clip(x, 0.0, 1.0), 0.0).astype(np.float32)
    if calibration == "percentile":
        return percentile_ranks(x, valid)
    return standardise(x, valid, reference)


def calibrate_all(
    signals: dict[str, np.ndarray],
    valid: np.ndarray,
    calibration: str = "standard",
    reference: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every signal (B, C) on the common scale, over each request's valid candidates (bool (B, C)).
    reference bool (B, C): the candidates whose spread sets each request's scale (a group member's own
    retrieved ones, so that their scale is the one their single-user request has); None: the valid ones."""
    # The dense signals' z-scores in one pass over a (S, B, C) stack (the same numbers as one at a time).
    dense = [n for n in signals if registry.by_name(n).scale != "share"] if calibration == "standard" else []
    together = dict(zip(dense, standardise(np.stack([signals[n] for n in dense]), valid, reference))) if dense else {}
    return {
        name: together[name] if name in together else calibrate(name, values, valid, calibration, reference)
        for name, values in signals.items()
    }


def weigh(
    calibrated: dict[str, np.ndarray], applies: dict[str, np.ndarray], valid: np.ndarray, weights: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Weighted sum of calibrated signals (each (B, C)) with per-request weights (each (B,)); a signal
    counts only for the requests it applies to (bool (B,)). Returns (total float32 (B, C), -inf where
    not valid; parts name -> (B, C))."""
    parts: dict[str, np.ndarray] = {}
    total = np.zeros(valid.shape, dtype=np.float32)
    for name, values in calibrated.items():
        scale = (applies[name] * weights[name]).astype(np.float32)[:, None]  # (B, 1)
        parts[name] = values * scale
        total += parts[name]
    return np.where(valid, total, -np.inf).astype(np.float32), parts


def combine(
    signals: dict[str, np.ndarray],
    applies: dict[str, np.ndarray],
    valid: np.ndarray,
    weights: dict[str, np.ndarray],
    calibration: str = "standard",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """calibrate_all, then weigh: (total float32 (B, C), -inf where not valid; parts name -> (B, C))."""
    return weigh(calibrate_all(signals, valid, calibration), applies, valid, weights)
