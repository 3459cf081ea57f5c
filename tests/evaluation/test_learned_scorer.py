"""The learned scorer on real ratings: trained without a test rating, it answers the taste task.

Users 1-250 of the real seed data, the protocol of `make eval`: the training part is split again by
time, the scorer learns from the older part's pools and the newer part's liked movies, and is then
measured on the test split's index. Not a target check (make eval reports that on every user): it
guards that the learned ranking works end to end and ranks far above popularity.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.embedding import Encoder
from movierec.evaluation.harness import Dataset, build_training_index, load_dataset, train_learned
from movierec.evaluation.rankers import LearnedRanker, MemoEncoder, Popularity
from movierec.evaluation.splits import temporal_split
from movierec.evaluation.tasks import taste_task
from movierec.recommender import Recommender, ranking_config
from movierec.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

USERS = 250


def test_the_learned_scorer_trains_on_validation_and_ranks_the_test_split(
        real_settings: Settings, encoder: Encoder, tmp_path: Path) -> None:
    settings = Settings(data_dir=real_settings.data_dir)
    dataset = Dataset("seed", settings)
    _, ratings, _ = load_dataset(dataset)
    train, held_out = temporal_split(ratings[ratings["user_id"] <= USERS])
    fit, validation = temporal_split(train)
    memo = MemoEncoder(encoder)
    cache = real_settings.index_dir / "cache"
    older = build_training_index(dataset, fit, tmp_path / "validation", cache, memo, "older part", progress=False)
    scorer, info = train_learned(older, validation, memo, settings, progress=False, epochs=30)
    assert info["users with a later liked movie in their pool"] > 150
    assert info["curve"][-1]["train"] < info["curve"][0]["train"]

    index = build_training_index(dataset, train, tmp_path / "test", cache, memo, "training part", progress=False)
    task = taste_task(held_out, index.user_row, index.movie_row)
    learned = task.score(LearnedRanker("learned", Recommender(index, memo, ranking_config(settings)), scorer))
    popularity = task.score(Popularity(index))
    assert learned["NDCG@10"] > 1.5 * popularity["NDCG@10"], (learned, popularity)
    with pytest.raises(ValueError, match="prompt-less"):
        LearnedRanker("learned", Recommender(index, memo, ranking_config(settings)), scorer).rank(
            [task.requests[0].__class__("a comedy", task.requests[0].user_id)], 10)
