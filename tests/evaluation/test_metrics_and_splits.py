from __future__ import annotations

import math

import pandas as pd
import pytest

from movierec.evaluation import metrics
from movierec.evaluation.splits import temporal_split
from movierec.evaluation.tasks import genre_prompt, keyword_prompt


def test_metrics_on_a_hand_made_list() -> None:
    ranked = [5, 3, 9, 1, 7]
    relevant = {3, 7, 100}
    assert metrics.recall_at(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert metrics.recall_at(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert metrics.precision_at(ranked, relevant, 5) == pytest.approx(2 / 5)
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at(ranked, relevant, 5) == pytest.approx(dcg / ideal)
    assert metrics.ndcg_at([3, 7, 100], relevant, 3) == pytest.approx(1.0)
    assert metrics.hit_at(ranked, 9, 3) == 1.0 and metrics.hit_at(ranked, 9, 2) == 0.0
    assert metrics.reciprocal_rank(ranked, 1) == pytest.approx(1 / 4)
    assert metrics.reciprocal_rank(ranked, 42) == 0.0


def test_temporal_split_holds_out_each_users_newest_fifth() -> None:
    rows = [(u, m, 4.0, 1000 + 10 * m) for u, n in ((1, 10), (2, 3), (3, 1)) for m in range(n)]
    frame = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"]).sample(frac=1, random_state=0)
    train, held = temporal_split(frame)
    assert held.groupby("user_id")["movie_id"].apply(sorted).to_dict() == {1: [8, 9], 2: [2], 3: [0]}
    assert len(train) + len(held) == len(frame)
    for user, group in train.groupby("user_id"):
        assert group["timestamp"].max() < held[held["user_id"] == user]["timestamp"].min()


def test_prompts_from_genres_and_keywords() -> None:
    assert genre_prompt(("Comedy",)) == "a comedy movie"
    assert genre_prompt(("Comedy", "Romance")) == "a comedy and romance movie"
    assert genre_prompt(("Action", "Science Fiction", "War")) == "a action, science fiction and war movie"
    assert keyword_prompt("Time Travel") == "a movie about time travel"
