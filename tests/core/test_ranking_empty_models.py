"""Every signal degrades the same way when its model is empty: present, parts of 0, order untouched.

Each case empties one signal's model in a seeded synthetic index (no EASE items, no users in the
user index, no tags, no votes, a taste vector of zeros) and ranks the same requests twice: with
every signal on, and with that signal's weight 0. The lists must be identical, and the emptied
signal must be reported with parts of exactly 0 wherever it applies.
"""

from __future__ import annotations

import dataclasses

import faiss
import numpy as np
import pytest

from movierec import signals as registry
from movierec.artifact import IndexArtifact
from movierec.ranking import Ranker, RankingConfig, RankRequest, UserProfile
from movierec.taste import centred_taste_vectors

from synthetic import synthetic_artifact, unit_rows

CONFIG = RankingConfig(
    candidate_movies=60,
    match_candidates=40,
    collaborative_candidates=40,
    similar_users=10,
    weights={
        "prompt": 0.5,
        "match": 1.0,
        "collaborative": 1.0,
        "community": 0.5,
        "taste": 0.5,
        "quality": 0.3,
        "popularity": 0.3,
        "genre_fit": 0.3,
    },
    anonymous_weights={"match": 1.0},
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("synthetic") / "v1", seed=3)


def without_ease(index: IndexArtifact) -> IndexArtifact:
    return dataclasses.replace(index, ease_items=np.zeros(0, np.int32), ease_weights=np.zeros((0, 0), np.float32))


def without_users(index: IndexArtifact) -> IndexArtifact:
    d = index.dimensions
    return dataclasses.replace(
        index,
        user_ids=np.zeros(0, np.int64),
        user_vectors=np.zeros((0, d), np.float32),
        user_index=faiss.IndexFlatIP(d),
        rated_ptr=np.zeros(1, np.int64),
        rated_rows=np.zeros(0, np.int32),
        rated_values=np.zeros(0, np.float32),
        rated_timestamps=np.zeros(0, np.int64),
        ease_items=np.zeros(0, np.int32),
        ease_weights=np.zeros((0, 0), np.float32),
    )


def without_tags(index: IndexArtifact) -> IndexArtifact:
    return dataclasses.replace(index, movies=[dataclasses.replace(m, genres=(), keywords=()) for m in index.movies])


def without_votes(index: IndexArtifact) -> IndexArtifact:
    return dataclasses.replace(
        index, movies=[dataclasses.replace(m, vote_average=0.0, vote_count=0) for m in index.movies]
    )


EMPTIED = {
    "collaborative": without_ease,
    "community": without_users,
    "match": without_tags,
    "genre_fit": without_tags,
    "quality": without_votes,
    "popularity": without_votes,
    "taste": lambda index: index,
}


def requests(ranker: Ranker, signal: str) -> list[RankRequest]:
    """Anonymous, known-user and empty-prompt requests; the user is new to the index (live ratings)."""
    rng = np.random.default_rng(7)
    rated = rng.choice(len(ranker.index.movies), 8, replace=False).astype(np.int64)
    values = rng.choice(np.arange(1, 11) / 2, size=8).astype(np.float32)
    taste = centred_taste_vectors(ranker.index.movie_vectors, np.array([0, 8]), rated, values)[0]
    if signal == "taste":  # a user the index holds with no ratings: a taste vector of zeros
        taste = np.zeros_like(taste)
    user = ranker.make_profile(None, rated, values, taste)
    q = unit_rows(rng, 2, ranker.index.dimensions)
    out = [
        RankRequest("a comedy and romance movie about time travel", q[0], None, 20),
        RankRequest("zombie heist in a small town", q[1], user, 20),
    ]
    if signal != "taste":  # an empty prompt with a zero taste has no query at all
        out.append(RankRequest("", None, user, 20))
    return out


@pytest.mark.parametrize("signal", sorted(EMPTIED))
def test_an_empty_model_leaves_the_order_to_the_other_signals(index: IndexArtifact, signal: str) -> None:
    emptied = EMPTIED[signal](index)
    ranker = Ranker(emptied, CONFIG)
    batch = requests(ranker, signal)
    with_it = ranker.rank(batch)
    without_it = Ranker(emptied, CONFIG.replace(weights={signal: 0.0})).rank(batch)
    for request, ranked, reference in zip(batch, with_it, without_it):
        needs = registry.by_name(signal).needs
        applies = (needs != "prompt" or request.prompt_vector is not None) and (
            needs not in ("user", "user or examples") or request.user is not None
        )
        assert len(ranked.rows) == request.limit
        np.testing.assert_array_equal(ranked.rows, reference.rows)
        np.testing.assert_allclose(ranked.scores, reference.scores, rtol=1e-6, atol=1e-6)
        if applies:
            assert signal in ranked.signals
            assert np.all(ranked.signals[signal] == 0), ranked.signals[signal]
        else:
            assert signal not in ranked.signals


@pytest.mark.parametrize("signal", sorted(EMPTIED))
def test_the_same_signal_is_not_zero_when_its_model_is_full(index: IndexArtifact, signal: str) -> None:
    """The check above can fail: with the model in place the signal does move the scores."""
    ranker = Ranker(index, CONFIG)
    batch = [
        r for r in requests(ranker, "full") if registry.by_name(signal).needs != "prompt" or r.prompt_vector is not None
    ]
    parts = [ranked.signals.get(signal) for ranked in ranker.rank(batch)]
    assert any(p is not None and np.any(p != 0) for p in parts)


def test_every_signal_is_covered() -> None:
    assert set(EMPTIED) | {"prompt"} == set(registry.names())  # the prompt's model is the movie vectors themselves


def test_a_user_whose_history_the_model_never_saw_gets_no_arbitrary_favourites(index: IndexArtifact) -> None:
    profile = UserProfile(
        None,
        np.zeros(0, np.int64),
        np.zeros(0, np.float32),
        index.user_vectors[0],
        np.zeros(len(index.ease_items), np.float32),
    )
    assert len(profile.top_collaborative(40, index.ease_items)) == 0
