from __future__ import annotations

import numpy as np
import pytest

from movierec.artifact import IndexArtifact
from movierec.ranking import RankingConfig, RankRequest, Ranker, quality_prior, standardise
from synthetic import synthetic_artifact, unit_rows


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("synthetic") / "v1")


CONFIG = RankingConfig(candidate_movies=120, similar_users=10)


def prompt(seed: int, d: int = 16) -> np.ndarray:
    return unit_rows(np.random.default_rng(seed), 1, d)[0]


def test_scores_are_the_sum_of_signals_and_sorted(index: IndexArtifact) -> None:
    ranked = Ranker(index, CONFIG).rank([RankRequest(prompt(1), user_row=3, limit=25)])[0]
    assert len(ranked.rows) == 25
    assert set(ranked.signals) == {"prompt", "community", "taste", "quality"}
    np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(ranked.scores) <= 1e-6)


def test_matches_a_brute_force_reference(index: IndexArtifact) -> None:
    """Recompute one request with plain numpy over the whole catalogue and compare."""
    q = prompt(2)
    user = 5
    cfg = CONFIG
    ranked = Ranker(index, cfg).rank([RankRequest(q, user_row=user, limit=30)])[0]

    sims = index.movie_vectors @ q
    candidates = np.argsort(-sims, kind="stable")[: cfg.candidate_movies]
    user_sims = index.user_vectors @ q
    neighbours = [u for u in np.argsort(-user_sims, kind="stable") if u != user][: cfg.similar_users]
    valid = ~np.isin(candidates, index.rated(user))
    raw = {
        "prompt": sims[candidates],
        "community": (index.movie_vectors[candidates] @ index.user_vectors[neighbours].T).mean(axis=1),
        "taste": index.movie_vectors[candidates] @ index.user_vectors[user],
        "quality": quality_prior(np.array([m.vote_average for m in index.movies]),
                                 np.array([m.vote_count for m in index.movies]))[candidates],
    }
    total = np.zeros(len(candidates))
    for name, values in raw.items():
        v = values[valid]
        z = (values - v.mean()) / v.std()
        total += cfg.weight(name) * z
    total[~valid] = -np.inf
    expected = candidates[np.argsort(-total, kind="stable")[:30]]
    np.testing.assert_array_equal(ranked.rows, expected)


def test_rated_movies_left_out_unless_asked(index: IndexArtifact) -> None:
    ranker = Ranker(index, RankingConfig(candidate_movies=300, similar_users=10))
    user = 2
    rated = set(index.rated(user).tolist())
    excluded = ranker.rank([RankRequest(prompt(3), user_row=user, limit=100)])[0]
    assert not rated & set(excluded.rows.tolist())
    included = ranker.rank([RankRequest(prompt(3), user_row=user, limit=300, include_rated=True)])[0]
    assert rated <= set(included.rows.tolist())


def test_anonymous_request_has_no_taste_signal(index: IndexArtifact) -> None:
    ranked = Ranker(index, CONFIG).rank([RankRequest(prompt(4), user_row=None, limit=10)])[0]
    assert set(ranked.signals) == {"prompt", "community", "quality"}


def test_empty_prompt_follows_the_users_taste(index: IndexArtifact) -> None:
    ranked = Ranker(index, CONFIG).rank([RankRequest(None, user_row=7, limit=10)])[0]
    assert "prompt" not in ranked.signals
    assert len(ranked.rows) == 10
    # The taste-only candidates are the movies nearest the taste vector.
    nearest = np.argsort(-(index.movie_vectors @ index.user_vectors[7]))[: CONFIG.candidate_movies]
    assert set(ranked.rows.tolist()) <= set(nearest.tolist())


def test_a_batch_equals_requests_one_by_one(index: IndexArtifact) -> None:
    ranker = Ranker(index, CONFIG)
    requests = [RankRequest(prompt(10), None, 10), RankRequest(prompt(11), 1, 15),
                RankRequest(None, 4, 5), RankRequest(prompt(12), 9, 20, include_rated=True)]
    batch = ranker.rank(requests)
    for request, together in zip(requests, batch):
        alone = ranker.rank([request])[0]
        np.testing.assert_array_equal(together.rows, alone.rows)
        np.testing.assert_allclose(together.scores, alone.scores, rtol=1e-5, atol=1e-5)
        assert together.signals.keys() == alone.signals.keys()


def test_limit_larger_than_the_catalogue(index: IndexArtifact) -> None:
    ranked = Ranker(index, RankingConfig(candidate_movies=10_000, similar_users=10_000)).rank(
        [RankRequest(prompt(5), user_row=0, limit=1000)])[0]
    assert len(ranked.rows) == len(index.movies) - len(index.rated(0))
    assert len(set(ranked.rows.tolist())) == len(ranked.rows)


def test_quality_prior_shrinks_movies_with_few_votes() -> None:
    prior = quality_prior(np.array([9.5, 9.5, 6.0, 6.0]), np.array([2, 2000, 1000, 1000]))
    assert prior[1] > prior[0]          # same average, more votes: trusted more
    assert 6.0 < prior[0] < 9.5         # few votes: pulled towards the mean


def test_standardise_ignores_invalid_entries_and_constant_rows() -> None:
    x = np.array([[1.0, 2.0, 3.0, 100.0], [5.0, 5.0, 5.0, 5.0]])
    valid = np.array([[True, True, True, False], [True, True, True, True]])
    z = standardise(x, valid)
    np.testing.assert_allclose(z[0, :3], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(z[1], 0)

