"""The not-interested evaluation and the weak negative it measures, on a synthetic index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.artifact import IndexArtifact
from movierec.domain import RecommendQuery
from movierec.evaluation.marks import IGNORED, choose, evaluate
from movierec.recommender import Recommender
from movierec.settings import Settings
from movierec.store import NOT_INTERESTED, SEEN, StoredRating

from synthetic import synthetic_artifact


class NoEncoder:
    """Prompt-less requests embed nothing: an encoder that only has to say its size."""

    dimensions, name, backend = 16, "none", "none"

    def encode(self, texts, threads=None) -> np.ndarray:  # noqa: ANN001
        raise AssertionError("a prompt-less request embedded a text")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("marks") / "v1", n_users=30)


def held_out(index: IndexArtifact, seed: int = 5) -> pd.DataFrame:
    """Per user: four disliked (2.0) and two liked (5.0) movies they did not rate in training."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in index.user_ids.tolist():
        rated = set(index.rated(index.user_row[user]).tolist())
        free = [r for r in rng.permutation(len(index.movies)).tolist() if r not in rated][:6]
        rows += [(user, int(index.movie_ids[r]), 2.0 if i < 4 else 5.0, 0) for i, r in enumerate(free)]
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])


def test_every_user_is_scored_and_the_marked_half_never_returns(index: IndexArtifact) -> None:
    result = evaluate(index, NoEncoder(), Settings(), held_out(index), weights=(0.0, 0.5), progress=False)  # type: ignore[arg-type]
    assert result["users"] == 30 and result["marks"] == 60  # half of each user's four disliked movies
    assert set(result["scores"]) == {IGNORED, "0", "0.5"} and set(result["against 0"]) == {IGNORED, "0.5"}
    # Leaving the marked movies out can only free places: never a lower share of liked movies found.
    assert result["scores"]["0"]["Recall@10"] >= result["scores"][IGNORED]["Recall@10"]
    assert result == evaluate(
        index,
        NoEncoder(),
        Settings(),
        held_out(index),
        weights=(0.0, 0.5),  # type: ignore[arg-type]
        progress=False,
    )  # seeded


def test_users_without_two_disliked_movies_are_skipped(index: IndexArtifact) -> None:
    frame = held_out(index)
    frame = frame[~((frame["user_id"] == index.user_ids[0]) & (frame["rating"] < 3))]
    result = evaluate(index, NoEncoder(), Settings(), frame, weights=(0.0,), progress=False)  # type: ignore[arg-type]
    assert result["users"] == 29 and result["skipped"]["fewer than two held-out ratings below 3"] == 1


def test_choose_takes_the_best_weight_that_is_not_worse_beyond_noise() -> None:
    def entry(value: float, low: float, high: float) -> dict:
        return {"NDCG@10": {"difference": value, "low": low, "high": high}}

    result = {
        "scores": {"0": {"NDCG@10": 0.10}, "0.5": {"NDCG@10": 0.12}, "1": {"NDCG@10": 0.13}, IGNORED: {"NDCG@10": 0.2}},
        "against 0": {"0.5": entry(0.02, -0.01, 0.05), "1": entry(0.03, -0.05, -0.001), IGNORED: entry(0.1, 0.05, 0.2)},
    }
    assert choose(result) == 0.5  # 1 is higher but worse beyond noise; the reference is no weight
    result["against 0"]["0.5"] = entry(-0.02, -0.04, -0.01)
    result["scores"]["0.5"]["NDCG@10"] = 0.08
    assert choose(result) == 0.0


def test_a_not_interested_mark_subtracts_its_collaborative_scores(index: IndexArtifact) -> None:
    config = Settings().ranking
    user = int(index.user_ids[3])
    unwanted = [int(index.movie_ids[r]) for r in (5, 17)]
    recommender = Recommender(index, NoEncoder(), config.replace(not_interested_weight=0.7))  # type: ignore[arg-type]
    before = recommender.profile(user)
    for seq, movie in enumerate(unwanted, 1):
        recommender.apply(StoredRating(seq, user, movie, 0.0, 10, kind=NOT_INTERESTED))
    recommender.apply(StoredRating(9, user, int(index.movie_ids[40]), 0.0, 10, kind=SEEN))
    after = recommender.profile(user)
    assert before is not None and after is not None
    # Brute force: the sum of the EASE rows of the marked movies, times the weight, taken off.
    rows = np.array([index.movie_row[m] for m in unwanted])
    positions = recommender.ranker.ease_position[rows]
    expected = before.collaborative.copy()
    expected[: len(index.ease_items)] -= 0.7 * index.ease_weights[positions[positions >= 0]].sum(axis=0)
    if len(index.tail_items):
        expected[len(index.ease_items) :] -= 0.7 * np.asarray(index.tail_weights[rows].sum(axis=0)).ravel()
    np.testing.assert_allclose(after.collaborative, expected, rtol=1e-5, atol=1e-6)
    assert sorted(after.unwanted_rows.tolist()) == sorted(rows.tolist()) and after.seen_rows.tolist() == [40]
    np.testing.assert_array_equal(after.taste, before.taste)  # the taste itself is the user's ratings alone
    unweighted = recommender.with_config(config.replace(not_interested_weight=0.0)).profile(user)
    assert unweighted is not None
    np.testing.assert_array_equal(unweighted.collaborative, before.collaborative)  # marks only leave the list
    listed = recommender.recommend_batch([RecommendQuery(prompt="", user_id=user, limit=100)])[0]
    assert not {*unwanted, int(index.movie_ids[40])} & {m.movie.movie_id for m in listed.movies}


def test_an_undo_wins_by_commit_order_whatever_the_clocks(index: IndexArtifact) -> None:
    recommender = Recommender(index, NoEncoder(), Settings().ranking)  # type: ignore[arg-type]
    user, movie = int(index.user_ids[2]), int(index.movie_ids[7])
    assert recommender.apply(StoredRating(1, user, movie, 0.0, 1000, kind=SEEN))
    assert recommender.apply(StoredRating(2, user, movie, 0.0, 999, kind=SEEN, undo=True))  # a replica a second behind
    assert recommender.marked(user, SEEN) == []
    assert not recommender.apply(StoredRating(1, user, movie, 0.0, 1000, kind=SEEN))  # replayed late: changes nothing
    assert recommender.marked(user, SEEN) == []


def test_taking_back_a_mark_never_set_makes_no_one_a_user(index: IndexArtifact) -> None:
    from movierec.diagnostics import NotFound

    recommender = Recommender(index, NoEncoder(), Settings().ranking)  # type: ignore[arg-type]
    recommender.apply(StoredRating(1, 990_123, int(index.movie_ids[0]), 0.0, 10, kind=SEEN, undo=True))
    with pytest.raises(NotFound, match="user 990123 is not known"):
        recommender.check_user(990_123)
    recommender.apply(StoredRating(2, 990_123, int(index.movie_ids[0]), 0.0, 11, kind=SEEN))
    recommender.check_user(990_123)  # a mark does
