"""Lining up two evaluations (two encoder backends): every default score, within 1% or better."""

from __future__ import annotations

import numpy as np

from movierec.evaluation.backends import DEFAULT, compare_scores, cosine_summary, default_scores


def report(taste: float, mood: float, constraint: float, conversation: float) -> dict:
    return {
        "splits": [
            {
                "dataset": "seed",
                "split": "test",
                "tasks": {
                    "taste": {"scores": {DEFAULT: {"NDCG@10": taste}, "EASE": {"NDCG@10": 9.0}}},
                    "mood": {"scores": {DEFAULT: {"NDCG@10": mood}}},
                },
            }
        ],
        "constraints": {"dataset": "seed", "scores": {DEFAULT: {"all": constraint}}},
        "conversations": {"dataset": "seed", "scores": {DEFAULT: {"Recall@10": conversation}}},
    }


def test_every_default_score_is_lined_up_and_only_a_drop_beyond_one_percent_fails() -> None:
    scores = default_scores(report(0.2, 0.3, 0.9, 0.1))
    assert scores == {
        "seed test: taste / NDCG@10": 0.2,
        "seed test: mood / NDCG@10": 0.3,
        "seed: constraints / all": 0.9,
        "seed: conversations / Recall@10": 0.1,
    }  # no EASE row
    rows = {r["score"]: r for r in compare_scores(report(0.1985, 0.2960, 0.95, 0.1), report(0.2000, 0.3000, 0.90, 0.1))}
    assert rows["seed test: taste / NDCG@10"]["within"]  # -0.75%
    assert not rows["seed test: mood / NDCG@10"]["within"]  # -1.33%
    assert rows["seed: constraints / all"]["within"]  # better
    assert np.isclose(rows["seed test: mood / NDCG@10"]["relative"], -0.04 / 3)


def test_cosine_summary() -> None:
    a = np.eye(3, dtype=np.float32)
    b = np.array([[1, 0, 0], [0, 0.6, 0.8], [0, 0, 1]], dtype=np.float32)
    got = cosine_summary(a, b)
    assert got["texts"] == 3 and np.isclose(got["worst"], 0.6) and np.isclose(got["mean"], 2.6 / 3)


def with_seeds(base: dict, per_seed: list[float]) -> dict:
    return base | {"learned": {"seed": {"seeds": {"scores": {str(i): {"NDCG@10": v} for i, v in enumerate(per_seed)}}}}}


def test_the_taste_task_is_judged_on_the_mean_over_training_seeds() -> None:
    """One seed 2% below, the seeds' mean within 1%: within; and the other way round: not."""
    reference = with_seeds(report(0.2000, 0.3, 0.9, 0.1), [0.2000, 0.1960, 0.2040])
    lucky_mean = with_seeds(report(0.1960, 0.3, 0.9, 0.1), [0.1960, 0.2010, 0.2030])
    row = next(r for r in compare_scores(lucky_mean, reference) if r["score"] == "seed test: taste / NDCG@10")
    assert row["within"] and not row["within_default_seed"] and row["seeds"] == 3
    assert np.isclose(row["seed_mean"], 0.2) and np.isclose(row["seed_mean_fp32"], 0.2)
    worse_mean = with_seeds(report(0.2000, 0.3, 0.9, 0.1), [0.2000, 0.1900, 0.1950])
    row = next(r for r in compare_scores(worse_mean, reference) if r["score"] == "seed test: taste / NDCG@10")
    assert not row["within"] and row["within_default_seed"]
    # only the seeds both runs trained count (an older reference with fewer seeds)
    more_seeds = with_seeds(report(0.1960, 0.3, 0.9, 0.1), [0.1960, 0.2010, 0.2030, 0.1000])
    row = next(r for r in compare_scores(more_seeds, reference) if r["score"] == "seed test: taste / NDCG@10")
    assert row["seeds"] == 3 and row["within"]
    # a report without seeds (or with one) keeps the one score's verdict
    row = next(
        r
        for r in compare_scores(report(0.1960, 0.3, 0.9, 0.1), reference)
        if r["score"] == "seed test: taste / NDCG@10"
    )
    assert not row["within"] and "seed_mean" not in row
