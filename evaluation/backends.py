"""The evaluation run twice: with the configured encoder backend and with fp32 PyTorch, side by side.

`make eval` with any backend but fp32 PyTorch (for prompts, `encoder_backend`, or the catalogue,
`index_encoder_backend`) first evaluates everything with both set to "torch" (the reference), then
with the configured ones, in the same work folder (the embedding caches are kept apart by the
encoder fingerprint). This module lines up the default ranking's every score
(each split's tasks, the constraint requests, the conversations) and asks of each: within 1%
(relative) of the fp32 result, or better; and measures how close the two encoders' vectors are,
over the whole catalogue and a set of prompts (the evaluation's everyday wordings and
generated requests).

A task the learned ranker answers (taste: a known user, no mood) is judged on the mean over its
training seeds (the evaluation trains it again with each of `--learned-seeds`), not on the one
model of the default seed: training turns vectors that differ by rounding into models whose
scores differ by about as much as two seeds' do (reports/eval.md, the backend section), so one
seed's score measures the training's luck more than the encoder.
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


def seed_scores(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The taste task's score per training seed of the learned ranker, by the same names as
    `default_scores` (its test split): name -> {seed: score}."""
    out: dict[str, dict[str, float]] = {}
    for dataset, info in (report.get("learned") or {}).items():
        for seed, scores in ((info.get("seeds") or {}).get("scores") or {}).items():
            for metric, value in scores.items():
                out.setdefault(f"{dataset} test: taste / {metric}", {})[seed] = float(value)
    return out


def _relative(value: float, ref: float) -> float:
    return (value - ref) / ref if ref else (0.0 if value == ref else float("inf"))


def compare_scores(report: dict[str, Any], reference: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per score both reports have: value, the reference's, relative change, within tolerance.
    A score both reports also have over several training seeds is judged on the seeds' mean
    (`seed_mean`, `seed_mean_fp32`, `seeds`); `within_default_seed` keeps the one seed's verdict."""
    ours, theirs = default_scores(report), default_scores(reference)
    our_seeds, their_seeds = seed_scores(report), seed_scores(reference)
    rows = []
    for name in ours.keys() & theirs.keys():
        value, ref = ours[name], theirs[name]
        row = {
            "score": name,
            "value": value,
            "fp32": ref,
            "relative": _relative(value, ref),
            "within": bool(value >= ref * (1 - TOLERANCE)),
        }
        shared = sorted(our_seeds.get(name, {}).keys() & their_seeds.get(name, {}).keys())  # the same seeds
        if len(shared) > 1:
            mean = float(np.mean([our_seeds[name][k] for k in shared]))
            ref_mean = float(np.mean([their_seeds[name][k] for k in shared]))
            row |= {
                "within_default_seed": row["within"],
                "seed_mean": mean,
                "seed_mean_fp32": ref_mean,
                "seeds": len(shared),
                "seed_mean_relative": _relative(mean, ref_mean),
                "within": bool(mean >= ref_mean * (1 - TOLERANCE)),
            }
        rows.append(row)
    return sorted(rows, key=lambda r: r["score"])


def cosine_summary(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Row-wise cosine of two (n, d) arrays of unit vectors: mean and worst."""
    cosine = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return {"texts": int(len(cosine)), "mean": float(cosine.mean()), "worst": float(cosine.min())}


def embedding_agreement(
    settings: Any, reference_backend: str, work_dir: Path, catalogue_texts: list[str], prompts: list[str]
) -> dict[str, Any]:
    """Cosine between the two runs' vectors: the catalogue (the indexer's backend against the reference,
    read from the evaluation's embedding cache, where both runs left them) and `prompts` (the server's
    backend against the reference, embedded here by both)."""
    from movierec.embedding import settings_encoder
    from movierec.indexer.cache import EmbeddingCache

    cache_dir = work_dir / "cache"
    ours = settings_encoder(settings, work_dir)
    theirs = settings_encoder(settings, work_dir, backend=reference_backend)
    our_catalogue = settings_encoder(settings, work_dir, lazy=True, catalogue=True)  # its fingerprint only
    out: dict[str, Any] = {}
    caches = [EmbeddingCache(cache_dir, e.fingerprint, e.dimensions) for e in (our_catalogue, theirs)]
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
