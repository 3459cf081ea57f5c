"""The evaluation run twice: with the configured encoder backend and with fp32 PyTorch, side by side.

`make eval` with an ONNX backend first evaluates everything with `encoder_backend = "torch"` (the
reference), then with the configured one, in the same work folder (the two embedding caches are
kept apart by the encoder fingerprint). This module lines up the default ranking's every score
(each split's tasks, the constraint requests, the conversations) and asks of each: within 1%
(relative) of the fp32 result, or better; and measures how close the two encoders' vectors are,
over the whole catalogue and a set of prompts (the evaluation's everyday wordings and
generated requests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DEFAULT = "movierec (default)"
TOLERANCE = 0.01  # relative


def default_scores(report: dict[str, Any]) -> dict[str, float]:
    """Every score of the default ranking in an evaluation report, by "where / metric"."""
    out: dict[str, float] = {}
    for split in report.get("splits", []):
        for task, entry in split["tasks"].items():
            for metric, value in (entry.get("scores", {}).get(DEFAULT) or {}).items():
                out[f"{split['dataset']} {split['split']}: {task} / {metric}"] = float(value)
    for key in ("constraints", "conversations"):
        section = report.get(key) or {}
        for metric, value in (section.get("scores", {}).get(DEFAULT) or {}).items():
            out[f"{section.get('dataset', '')}: {key} / {metric}"] = float(value)
    return out


def compare_scores(report: dict[str, Any], reference: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per score both reports have: value, the reference's, relative change, within tolerance."""
    ours, theirs = default_scores(report), default_scores(reference)
    rows = []
    for name in ours.keys() & theirs.keys():
        value, ref = ours[name], theirs[name]
        change = (value - ref) / ref if ref else (0.0 if value == ref else float("inf"))
        rows.append({"score": name, "value": value, "fp32": ref, "relative": change,
                     "within": bool(value >= ref * (1 - TOLERANCE))})
    return sorted(rows, key=lambda r: r["score"])


def cosine_summary(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Row-wise cosine of two (n, d) arrays of unit vectors: mean and worst."""
    cosine = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return {"texts": int(len(cosine)), "mean": float(cosine.mean()), "worst": float(cosine.min())}


def embedding_agreement(settings: Any, reference_backend: str, work_dir: Path, catalogue_texts: list[str],
                        prompts: list[str]) -> dict[str, Any]:
    """Cosine between the two backends' vectors: the catalogue (read from the evaluation's embedding
    cache, where both runs left them) and `prompts` (embedded here by both)."""
    from movierec.embedding import settings_encoder
    from movierec.indexer.cache import EmbeddingCache

    cache_dir = work_dir / "cache"
    ours = settings_encoder(settings, work_dir)
    theirs = settings_encoder(settings, work_dir, backend=reference_backend)
    out: dict[str, Any] = {}
    caches = [EmbeddingCache(cache_dir, e.fingerprint, e.dimensions) for e in (ours, theirs)]
    try:
        found = [c.get_many(catalogue_texts) for c in caches]
    finally:
        for c in caches:
            c.close()
    both = sorted(found[0].keys() & found[1].keys())
    if both:
        out["catalogue"] = cosine_summary(np.stack([found[0][i] for i in both]), np.stack([found[1][i] for i in both]))
    out["prompts"] = cosine_summary(ours.encode(prompts), theirs.encode(prompts))
    return out
