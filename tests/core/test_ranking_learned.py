"""The learned second phase of the combine stage, against a brute-force reference on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifact import IndexArtifact
from movierec.learned import BASELINE, candidate_features, listed
from movierec.ranking import Ranker, RankingConfig, RankRequest

from synthetic import random_scorer, synthetic_artifact, unit_rows

CONFIG = RankingConfig(candidate_movies=120, similar_users=10, learned_candidates=30)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("synthetic-learned") / "v1", learned=random_scorer(1))


def test_the_index_carries_its_model(index: IndexArtifact) -> None:
    assert index.learned is not None and index.learned_problem is None
    entry = index.manifest.learned
    assert entry is not None and entry.file == "learned.npz" and entry.sha256 is not None and len(entry.sha256) == 64


def test_prompt_less_requests_of_known_users_are_the_models_order_over_the_shortlist(index: IndexArtifact) -> None:
    ranker = Ranker(index, CONFIG)
    requests = [RankRequest("", None, ranker.profile(row), limit=12) for row in (0, 5, 9)]
    got = ranker.rank(requests)
    # Reference: the weighted sum's 30 best, the features by hand, the model's order over them.
    batch, values = ranker.candidates_and_signals(requests)
    scored = ranker.weighted_sum(batch, values)
    total, calibrated = scored.total, scored.calibrated
    for i, ranked in enumerate(got):
        best = np.argsort(-np.where(batch.valid[i], total[i], -np.inf), kind="stable")[:30]
        row, at = np.array([i]), best[None]
        features = candidate_features(
            index.learned.inputs,
            listed(calibrated, row, at),
            listed(values, row, at),
            batch.valid[i : i + 1, best],
            ranker.movie_ratings[batch.candidates[i, best]][None],
            np.array([len(requests[i].user.rated_rows)]),
        )
        scores = index.learned.score(features)[0]
        order = np.argsort(-scores, kind="stable")[:12]
        np.testing.assert_array_equal(ranked.rows, batch.candidates[i, best[order]])
        np.testing.assert_allclose(ranked.scores, scores[order], rtol=1e-5, atol=1e-5)
        # The parts: each signal's gradient x input, and the baseline; they sum to the score.
        assert BASELINE in ranked.signals and "taste" in ranked.signals
        np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, rtol=1e-4, atol=1e-4)


def test_requests_outside_its_training_keep_the_weighted_sum(index: IndexArtifact) -> None:
    learned, weighted = Ranker(index, CONFIG), Ranker(index, CONFIG.replace(ranker="weighted_sum"))
    query = unit_rows(np.random.default_rng(3), 1, 16)[0]
    requests = [
        RankRequest("a drama", query, learned.profile(2), limit=10),  # a mood
        RankRequest("a drama", query, None, limit=10),  # anonymous
        RankRequest(
            "",
            None,
            learned.profile(4),
            limit=10,  # examples
            examples=np.array([3, 7], np.int64),
        ),
    ]
    for a, b in zip(learned.rank(requests), weighted.rank(requests)):
        np.testing.assert_array_equal(a.rows, b.rows)
        assert BASELINE not in a.signals
    # In one batch with an in-domain request, the others are still untouched.
    mixed = learned.rank([RankRequest("", None, learned.profile(1), limit=10), *requests])
    assert BASELINE in mixed[0].signals
    for a, b in zip(mixed[1:], weighted.rank(requests)):
        np.testing.assert_array_equal(a.rows, b.rows)


def test_weighted_sum_setting_and_unknown_rankers(index: IndexArtifact) -> None:
    assert Ranker(index, CONFIG.replace(ranker="weighted_sum")).scorer is None
    assert Ranker(index, CONFIG).scorer is index.learned
    with pytest.raises(ValueError, match="ranker"):
        RankingConfig(ranker="mlp")


def test_a_list_longer_than_the_shortlist_is_still_full(index: IndexArtifact) -> None:
    ranker = Ranker(index, CONFIG.replace(learned_candidates=5))
    ranked = ranker.rank([RankRequest("", None, ranker.profile(0), limit=40)])[0]
    assert len(ranked.rows) == 40 and len(set(ranked.rows.tolist())) == 40 and BASELINE in ranked.signals


def test_a_prompt_less_list_does_not_depend_on_the_moods_of_its_batch(index: IndexArtifact) -> None:
    """A batch with one mood computes the prompt signal for every row (for a prompt-less user it is the
    taste product); the model must see it only where it applies, as in training."""
    ranker = Ranker(index, CONFIG)
    alone = ranker.rank([RankRequest("", None, ranker.profile(6), limit=10)])[0]
    query = unit_rows(np.random.default_rng(8), 1, 16)[0]
    mixed = ranker.rank(
        [
            RankRequest("", None, ranker.profile(6), limit=10),
            RankRequest("a western", query, ranker.profile(8), limit=10),
        ]
    )[0]
    np.testing.assert_array_equal(alone.rows, mixed.rows)
    np.testing.assert_allclose(alone.scores, mixed.scores, rtol=1e-5, atol=1e-6)
    assert set(alone.signals) == set(mixed.signals) and "prompt" not in mixed.signals
