"""Guards the evaluation's taste target: the default ranking (the learned ranker) must not fall below EASE.

A fixed, small subset of the real seed data (users 1-250, the same temporal split as `make eval`),
built with the production indexer from the session's embedding cache, so this takes seconds. The
indexer trains the learned ranker inside that build, from the training part only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.embedding import Encoder
from movierec.evaluation.harness import Dataset, build_training_index, load_dataset
from movierec.evaluation.rankers import EaseReference, MemoEncoder, Popularity, ProductionRanker
from movierec.evaluation.splits import temporal_split
from movierec.evaluation.tasks import taste_task
from movierec.recommender import Recommender
from movierec.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

USERS = 250


def test_default_ranking_is_not_below_ease_on_taste(real_settings: Settings, encoder: Encoder, tmp_path: Path) -> None:
    settings = Settings(data_dir=real_settings.data.data_dir)
    dataset = Dataset("seed", settings)
    _, ratings, _ = load_dataset(dataset)
    train, held_out = temporal_split(ratings[ratings["user_id"] <= USERS])
    memo = MemoEncoder(encoder)
    index = build_training_index(
        dataset, train, tmp_path / "index", real_settings.index.index_dir / "cache", memo, "test subset", progress=False
    )
    task = taste_task(held_out, index.user_row, index.movie_row)
    assert len(task.requests) > 200
    # The model was trained on the training part only (split again by time), never on a held-out rating.
    learned = index.manifest.learned
    assert index.learned is not None and learned is not None and learned.ratings == len(train)
    training = learned.training
    assert training is not None and training["earlier ratings"] + training["later ratings"] == len(train)
    assert training["users with a later liked movie in their pool"] > 150
    config = settings.ranking
    default_ranker = ProductionRanker("default", Recommender(index, memo, config))
    default = task.score(default_ranker)
    ease = task.score(EaseReference(index, settings.index.ease_lambda))
    popularity = task.score(Popularity(index))
    assert popularity["NDCG@10"] < ease["NDCG@10"]  # the harness itself separates rankers
    assert default["NDCG@10"] >= ease["NDCG@10"], (default, ease)
    assert default["NDCG@10"] > 1.5 * popularity["NDCG@10"], (default, popularity)
    # The second phase does re-rank: most users' lists differ from the weighted sum's.
    weighted = ProductionRanker("weighted", Recommender(index, memo, config.replace(ranker="weighted_sum")))
    requests = task.requests[:100]
    changed = sum(a != b for a, b in zip(default_ranker.rank(requests, 10), weighted.rank(requests, 10)))
    assert changed > 50
