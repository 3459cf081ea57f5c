"""Exact vs approximate (IVF) indexes: the size rule, recall against brute force, round trips."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from movierec.ranking import Ranker, RankingConfig, RankRequest
from movierec.vectorindex import build_index, exact_top, recall_at, stored_vectors

from synthetic import synthetic_artifact, unit_rows


def clustered(rng: np.random.Generator, n: int, d: int, centres: int = 50) -> np.ndarray:
    middle = unit_rows(rng, centres, d)
    x = middle[rng.integers(centres, size=n)] + rng.normal(scale=0.3 / np.sqrt(d), size=(n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_small_collections_get_an_exact_index() -> None:
    vectors = unit_rows(np.random.default_rng(0), 500, 16)
    index, choice = build_index(vectors, exact_max=500)
    assert isinstance(index, faiss.IndexFlatIP) and choice.kind == "flat"
    np.testing.assert_array_equal(stored_vectors(index), vectors)


def test_large_collections_get_an_ivf_index_with_calibrated_recall() -> None:
    rng = np.random.default_rng(1)
    vectors = clustered(rng, 20_000, 32)
    index, choice = build_index(vectors, exact_max=5_000, target_recall=0.95)
    assert isinstance(index, faiss.IndexIVFFlat) and choice.kind == "ivf"
    assert choice.lists == 512 and index.nprobe == choice.nprobe and choice.recall_at_100 >= 0.95
    np.testing.assert_array_equal(stored_vectors(index), vectors)  # ids are rows, in order
    # Independent check against brute force on fresh queries (tolerance: recall, not equality).
    rng = np.random.default_rng(2)
    queries = vectors[rng.choice(len(vectors), 100)] + rng.normal(scale=0.3 / np.sqrt(32), size=(100, 32))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    _, found = index.search(queries, 100)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :100]
    assert recall_at(found, truth) >= 0.9


def test_calibrating_on_the_queries_holds_recall_for_queries_between_the_clusters() -> None:
    """Prompts land between the catalogue's clusters: calibrated on stored vectors the index probes too
    few lists for them; calibrated on a sample of such queries it keeps recall on fresh ones."""
    rng = np.random.default_rng(0)
    d, n = 32, 40_000
    centres = rng.normal(size=(200, d)).astype(np.float32)
    vectors = centres[rng.integers(200, size=n)] + rng.normal(scale=0.6, size=(n, d)).astype(np.float32)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def between(m: int) -> np.ndarray:  # the mean of three random stored vectors
        mixed = sum(vectors[rng.integers(n, size=m)] for _ in range(3))
        return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)

    fresh = between(300)
    truth = exact_top(vectors, fresh, 100)  # brute force
    on_stored, stored_choice = build_index(vectors, exact_max=1000)
    on_queries, query_choice = build_index(vectors, exact_max=1000, queries=between(300))
    assert (stored_choice.calibrated_on, query_choice.calibrated_on) == ("stored", "queries")
    assert query_choice.nprobe > stored_choice.nprobe
    assert recall_at(on_stored.search(fresh, 100)[1], truth) < 0.9  # what calibrating on the wrong queries costs
    assert recall_at(on_queries.search(fresh, 100)[1], truth) >= 0.94  # the 0.95 target, less sampling noise
    # Groups: the worst decides, so an easy group (near stored vectors, like taste vectors) beside the
    # hard one cannot pull the probes down, as it would if the two were pooled.
    near = vectors[rng.integers(n, size=300)]
    _, grouped = build_index(vectors, exact_max=1000, queries=[near, between(300)])
    assert grouped.nprobe >= query_choice.nprobe and grouped.recall_at_100 >= 0.95


def test_chunked_exact_top_matches_a_full_sort() -> None:
    rng = np.random.default_rng(3)
    vectors, queries = unit_rows(rng, 3_000, 8), unit_rows(rng, 20, 8)
    top = exact_top(vectors, queries, 50, chunk=700)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :50]
    assert [set(r) for r in top.tolist()] == [set(r) for r in truth.tolist()]


def test_an_ivf_artifact_round_trips_and_ranks(tmp_path: Path) -> None:
    index = synthetic_artifact(tmp_path / "v1", n_movies=3_000, n_users=40, exact_search_max=1_000)
    assert isinstance(index.movie_index, faiss.IndexIVF) and isinstance(index.user_index, faiss.IndexFlat)
    search = index.manifest.search
    assert search is not None and search.movies.kind == "ivf"
    assert index.movie_index.nprobe == search.movies.nprobe  # restored on load
    ranker = Ranker(index, RankingConfig(candidate_movies=200, similar_users=10))
    assert not ranker.exact
    q = index.movie_vectors[17]
    ranked = ranker.rank([RankRequest("a drama", q, ranker.profile(3), limit=20)])[0]
    assert len(ranked.rows) == 20 and len(set(ranked.rows.tolist())) == 20
    np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, rtol=1e-5, atol=1e-5)
