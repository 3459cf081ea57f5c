"""What the ranking stages read from an index besides its arrays: priors and lookups computed once
when an index is loaded (IndexFeatures), so that each stage takes them, typed, instead of the Ranker."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
from scipy import sparse

from movierec.artifact import IndexArtifact
from movierec.lexical import TagMatcher


@dataclass(frozen=True)
class IndexFeatures:
    """index: the artifact; exact: its movie index is flat (searched by one product per batch) rather than
    approximate; quality, popularity float32 (n_movies,): the review prior and log(1 + votes); matcher:
    the catalogue's tags; genre_centroids float32 (G, d) and genre_share CSR (n_movies, G) for genre_fit;
    ratings CSR (n_users, n_movies): centred ratings for community; collaborative_items int64 (a,): the
    movies a profile's collaborative scores are over, collaborative_position int64 (n_movies,): where each
    movie sits in them (-1: none); ease_position likewise for EASE's own items; movie_ratings int64
    (n_movies,): how many ratings each movie has in the index."""

    index: IndexArtifact
    exact: bool
    quality: np.ndarray
    popularity: np.ndarray
    matcher: TagMatcher
    genre_centroids: np.ndarray
    genre_share: sparse.csr_matrix
    ratings: sparse.csr_matrix
    collaborative_items: np.ndarray
    collaborative_position: np.ndarray
    ease_position: np.ndarray
    movie_ratings: np.ndarray

    @classmethod
    def of(cls, index: IndexArtifact) -> IndexFeatures:
        votes = np.array([m.vote_count for m in index.movies])
        centroids, share = genre_prototypes(index)
        collaborative_position = np.full(len(index.movies), -1, dtype=np.int64)
        collaborative_position[index.collaborative_items] = np.arange(len(index.collaborative_items))
        ease_position = np.full(len(index.movies), -1, dtype=np.int64)
        ease_position[index.ease_items] = np.arange(len(index.ease_items))
        return cls(
            index=index,
            # An exact (flat) movie index is searched with one matrix product per batch; an approximate
            # one (large catalogues) through FAISS.
            exact=isinstance(index.movie_index, faiss.IndexFlat),
            quality=quality_prior(np.array([m.vote_average for m in index.movies]), votes),
            popularity=np.log1p(np.maximum(votes, 0)).astype(np.float32),
            matcher=TagMatcher([(*m.genres, *m.keywords) for m in index.movies]),
            genre_centroids=centroids,
            genre_share=share,
            ratings=centred_ratings(index),
            collaborative_items=index.collaborative_items,
            collaborative_position=collaborative_position,
            ease_position=ease_position,
            movie_ratings=np.bincount(index.rated_rows, minlength=len(index.movies)),
        )


def quality_prior(vote_average: np.ndarray, vote_count: np.ndarray) -> np.ndarray:
    """Bayesian average of TMDB votes: (v * R + m * C) / (v + m), m = median vote count, C = mean vote.

    vote_average float (n,), vote_count int (n,) -> float32 (n,). Few votes pull a movie towards C.
    """
    votes = vote_count.astype(np.float64)
    voted = votes > 0
    m = float(np.median(votes[voted])) if voted.any() else 1.0
    c = float(np.average(vote_average[voted], weights=votes[voted])) if voted.any() else 0.0
    return ((votes * vote_average + m * c) / (votes + m)).astype(np.float32)


def genre_prototypes(index: IndexArtifact) -> tuple[np.ndarray, sparse.csr_matrix]:
    """(centroids float32 (G, d): each genre's mean movie embedding, unit length; share CSR (n_movies, G):
    1/k for each of a movie's k genres), for the genre_fit signal."""
    genres = sorted({g for m in index.movies for g in m.genres})
    column = {g: j for j, g in enumerate(genres)}
    rows, cols, values = [], [], []
    for i, m in enumerate(index.movies):
        for g in m.genres:
            rows.append(i)
            cols.append(column[g])
            values.append(1.0 / len(m.genres))
    share = sparse.csr_matrix((np.array(values, np.float32), (rows, cols)), shape=(len(index.movies), len(genres)))
    members = sparse.csr_matrix((np.ones(len(rows), np.float32), (cols, rows)), shape=(len(genres), len(index.movies)))
    centroids = (
        np.asarray(members @ index.movie_vectors, dtype=np.float32)
        if len(genres)
        else np.zeros((0, index.dimensions), np.float32)
    )
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    return centroids, share


def centred_ratings(index: IndexArtifact) -> sparse.csr_matrix:
    """Each user's ratings minus their mean: float32 CSR (n_users, n_movies), absent where unrated."""
    n_users, n_movies = len(index.user_ids), len(index.movies)
    counts = np.diff(index.rated_ptr)
    owner = np.repeat(np.arange(n_users), counts)
    means = np.bincount(owner, weights=index.rated_values, minlength=n_users) / np.maximum(counts, 1)
    values = (index.rated_values - means[owner]).astype(np.float32)
    return sparse.csr_matrix(
        (values, index.rated_rows.astype(np.int64), index.rated_ptr.astype(np.int64)), shape=(n_users, n_movies)
    )
