"""Lining up two evaluations (two encoder backends): every default score, within 1% or better."""

from __future__ import annotations

import numpy as np

from movierec.evaluation.backends import DEFAULT, compare_scores, cosine_summary, default_scores


def report(taste: float, mood: float, constraint: float, conversation: float) -> dict:
    return {"splits": [{"dataset": "seed", "split": "test",
                        "tasks": {"taste": {"scores": {DEFAULT: {"NDCG@10": taste}, "EASE": {"NDCG@10": 9.0}}},
                                  "mood": {"scores": {DEFAULT: {"NDCG@10": mood}}}}}],
            "constraints": {"dataset": "seed", "scores": {DEFAULT: {"all": constraint}}},
            "conversations": {"dataset": "seed", "scores": {DEFAULT: {"Recall@10": conversation}}}}


def test_every_default_score_is_lined_up_and_only_a_drop_beyond_one_percent_fails() -> None:
    scores = default_scores(report(0.2, 0.3, 0.9, 0.1))
    assert scores == {"seed test: taste / NDCG@10": 0.2, "seed test: mood / NDCG@10": 0.3,
                      "seed: constraints / all": 0.9, "seed: conversations / Recall@10": 0.1}  # no EASE row
    rows = {r["score"]: r for r in compare_scores(report(0.1985, 0.2960, 0.95, 0.1),
                                                  report(0.2000, 0.3000, 0.90, 0.1))}
    assert rows["seed test: taste / NDCG@10"]["within"]           # -0.75%
    assert not rows["seed test: mood / NDCG@10"]["within"]        # -1.33%
    assert rows["seed: constraints / all"]["within"]               # better
    assert np.isclose(rows["seed test: mood / NDCG@10"]["relative"], -0.04 / 3)


def test_cosine_summary() -> None:
    a = np.eye(3, dtype=np.float32)
    b = np.array([[1, 0, 0], [0, 0.6, 0.8], [0, 0, 1]], dtype=np.float32)
    got = cosine_summary(a, b)
    assert got["texts"] == 3 and np.isclose(got["worst"], 0.6) and np.isclose(got["mean"], 2.6 / 3)
