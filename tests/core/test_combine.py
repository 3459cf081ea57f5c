"""The combine stage: percentile ranks against scipy, bounded parts, constant signals."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from movierec.combine import calibrate, combine, percentile_ranks


def test_percentile_ranks_equal_scipys_average_ranks_over_the_valid_entries() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, (200, 40)).astype(np.float32)  # many ties
    valid = rng.random((200, 40)) < 0.8
    got = percentile_ranks(x, valid)
    for row in range(200):
        v = x[row][valid[row]]
        expected = (rankdata(v) - 1) / (len(v) - 1) if len(v) > 1 and np.ptp(v) > 0 else np.zeros(len(v))
        np.testing.assert_allclose(got[row][valid[row]], expected, atol=1e-6)
        assert np.all(got[row][~valid[row]] == 0)


def test_every_part_is_at_most_its_weight_and_a_sparse_match_is_no_filter() -> None:
    rng = np.random.default_rng(4)
    b, c = 8, 300
    match = np.zeros((b, c), np.float32)
    match[:, 0] = 1.0  # one candidate carries the named tag
    prompt = rng.standard_normal((b, c)).astype(np.float32)
    valid = np.ones((b, c), bool)
    weights = {"match": 1.0, "prompt": 1.0}
    applies = {"match": np.ones(b, bool), "prompt": np.ones(b, bool)}
    total, parts = combine({"match": match, "prompt": prompt}, applies, valid, weights)
    assert parts["match"].max() <= 1.0 and parts["match"].min() >= 0.0
    np.testing.assert_allclose(parts["prompt"].mean(axis=1), 0, atol=1e-5)  # a z-score over the candidates
    np.testing.assert_allclose(parts["prompt"].std(axis=1), 1, atol=1e-4)
    _, parts = combine({"match": match, "prompt": prompt}, applies, valid, weights, calibration="percentile")
    assert parts["prompt"].max() <= 1.0 and parts["prompt"].min() >= 0.0
    # At the bottom of the prompt ranking, the tagged movie scores no more than the best untagged one:
    # with equal weights the tag alone does not lift it above the others.
    prompt[: b // 2, 0] = prompt.min() - 1
    total, _ = combine({"match": match, "prompt": prompt}, applies, valid, weights)
    assert np.all(total[: b // 2, 0] <= total[: b // 2, 1:].max(axis=1) + 1e-6)


def test_a_constant_signal_contributes_nothing() -> None:
    x = np.full((2, 5), 3.0, np.float32)
    valid = np.ones((2, 5), bool)
    for name in ("prompt", "match"):
        assert np.all(calibrate(name, x, valid) == 0)
