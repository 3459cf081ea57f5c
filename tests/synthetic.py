"""Seeded synthetic index artifacts for exact checks of the ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from movierec.artifact import IndexArtifact, IndexData, load_artifact, write_artifact
from movierec.domain import Movie
from movierec.indexer.ease import fit_ease, fit_tail
from movierec.learned import UNNAMED_INPUTS, LearnedScorer, n_features
from movierec.manifest import Counts, Manifest, ModelRecord
from movierec.taste import centred_taste_vectors, group_by_user


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def synthetic_artifact(
    folder: Path,
    n_movies: int = 300,
    n_users: int = 40,
    d: int = 16,
    per_user: int = 12,
    seed: int = 0,
    exact_search_max: int = 200_000,
    learned: LearnedScorer | None = None,
    ease_max_items: int = 0,
) -> IndexArtifact:
    """Random unit movie vectors, users who each rated `per_user` random movies, centroid tastes;
    `learned` is saved as the index's learned ranker; `ease_max_items` caps EASE (item-kNN beyond)."""
    rng = np.random.default_rng(seed)
    movie_vectors = unit_rows(rng, n_movies, d)
    genres = ("Drama", "Comedy", "Horror", "Romance", "Western")
    keywords = ("time travel", "heist", "zombie", "small town", "road trip", "space")
    movies = [
        Movie(
            movie_id=1000 + i,
            title=f"movie {i}",
            year=1990 + i % 30,
            genres=tuple(sorted({genres[i % 5], genres[(i // 5) % 5]})),
            vote_average=float(rng.uniform(3, 9)),
            vote_count=int(rng.integers(0, 5000)),
            keywords=(keywords[i % 6],) if i % 4 else (),
        )
        for i in range(n_movies)
    ]
    owner = np.repeat(np.arange(n_users), per_user)
    rated_rows = np.concatenate([rng.choice(n_movies, per_user, replace=False) for _ in range(n_users)]).astype(
        np.int32
    )
    rated_values = rng.choice(np.arange(1, 11) / 2, size=len(rated_rows)).astype(np.float32)
    rated_ptr = group_by_user(owner, n_users)
    user_vectors = centred_taste_vectors(movie_vectors, rated_ptr, rated_rows, rated_values)
    ease_items, ease_weights = fit_ease(rated_ptr, rated_rows, n_movies, lam=50.0, max_items=ease_max_items)
    tail = fit_tail(rated_ptr, rated_rows, n_movies, ease_items, ease_weights, neighbours=20)
    user_ids = np.arange(1, n_users + 1, dtype=np.int64) * 7
    manifest = Manifest(
        index_version=f"synthetic-{seed}",
        dimensions=d,
        counts=Counts(movies=n_movies, users=n_users, ratings=len(rated_rows)),
        model=ModelRecord(name="synthetic"),
    )
    rated_timestamps = (1_500_000_000 + np.arange(len(rated_rows)) * 60).astype(np.int64)
    write_artifact(
        folder,
        IndexData(
            manifest=manifest,
            movies=movies,
            movie_vectors=movie_vectors,
            user_ids=user_ids,
            user_vectors=user_vectors,
            rated_ptr=rated_ptr,
            rated_rows=rated_rows,
            rated_values=rated_values,
            rated_timestamps=rated_timestamps,
            ease_items=ease_items,
            ease_weights=ease_weights,
            tail_items=tail[0],
            tail_weights=tail[1],
            learned=learned,
            exact_search_max=exact_search_max,
        ),
    )
    return load_artifact(folder)


def random_scorer(seed: int, hidden: tuple[int, ...] = (8, 4)) -> LearnedScorer:
    """An MLP with random weights over the learned ranker's features (for exact checks of serving)."""
    rng = np.random.default_rng(seed)
    sizes = (n_features(len(UNNAMED_INPUTS)), *hidden, 1)
    return LearnedScorer(
        [
            (
                rng.standard_normal((sizes[i], sizes[i + 1])).astype(np.float32) / np.sqrt(sizes[i]),
                rng.standard_normal(sizes[i + 1]).astype(np.float32) * 0.1,
            )
            for i in range(len(sizes) - 1)
        ]
    )
