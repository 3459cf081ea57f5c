"""The indexer's training step for the learned ranker (movierec.learned).

Temporal, so the model never learns from a rating in the future of what it predicts: the ratings
being indexed are split per user by time (movierec.splits: the newest fifth held out). An inner
index is built in memory from the older part only (taste vectors, EASE, user search), exactly as
the real one is; each user's prompt-less request runs through the production retrieval, signals and
weighted sum on it, and the weighted sum's shortlist is the user's training list. The positives are
the shortlisted movies the user rated >= LIKED in the newer part. Nothing else: no evaluation data
and no prompts (the model serves prompt-less requests only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from movierec import signals
from movierec.artifact import IndexArtifact, sha256_file
from movierec.batch import RankRequest
from movierec.diagnostics import ArtifactError
from movierec.domain import Movie
from movierec.indexer.ease import fit_ease, fit_tail
from movierec.learned import (
    LearnedScorer,
    candidate_features,
    listed,
    n_features,
    read_scorer,
    shortlist_of,
    train_scorer,
)
from movierec.manifest import Counts, LearnedRecord, Manifest, read_manifest
from movierec.ranking import Ranker, RankingConfig
from movierec.splits import temporal_split
from movierec.taste import taste_vectors as taste_vectors_of
from movierec.vectorindex import build_index

log = logging.getLogger(__name__)

LIKED = 4.0
HIDDEN = (32, 16)
# Fewer training users with a positive than this and no model is trained (a handful of lists is noise).
MIN_TRAINING_USERS = 20
BATCH = 64
# Each training user's list is their whole candidate pool; each training step's softmax runs over
# the user's positives and this many other candidates of the pool, drawn afresh every step.
NEGATIVES = 256


@dataclass
class TrainingLists:
    """Each training user's shortlist: candidates int64 (U, K) movie rows, valid bool (U, K),
    features float32 (U, K, F) over the registered signals, positive bool (U, K)."""

    user_ids: list[int]
    candidates: np.ndarray
    valid: np.ndarray
    features: np.ndarray
    positive: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))


def memory_artifact(
    movies: list[Movie],
    movie_vectors: np.ndarray,
    frame: pd.DataFrame,
    taste_vectors: str,
    ease_lambda: float,
    exact_search_max: int,
    *,
    ease_max_items: int = 0,
    tail: tuple[int, float] = (0, 0.0),
) -> IndexArtifact:
    """An index built from `frame` (user_id, movie_id, rating, timestamp) in memory, as the indexer
    builds the real one (the same taste vectors, EASE and search), for training lists. `tail`: the
    item-kNN beyond EASE's cap (neighbours, shrink)."""
    from movierec.indexer.build import user_arrays  # the indexer's own user arrays

    movie_row = {m.movie_id: i for i, m in enumerate(movies)}
    user_ids, rated_ptr, rated_rows, rated_values, rated_timestamps = user_arrays(frame, movie_row)
    user_vectors = taste_vectors_of(taste_vectors, movie_vectors, rated_ptr, rated_rows, rated_values)
    ease_items, ease_weights = fit_ease(rated_ptr, rated_rows, len(movies), ease_lambda, ease_max_items)
    tail_items, tail_weights = fit_tail(rated_ptr, rated_rows, len(movies), ease_items, ease_weights, *tail)
    movie_index, _ = build_index(movie_vectors, exact_search_max)
    user_index, _ = build_index(user_vectors, exact_search_max)
    return IndexArtifact(
        path=None,  # type: ignore[arg-type]
        manifest=Manifest(
            index_version="training",
            dimensions=movie_vectors.shape[1],
            counts=Counts(movies=len(movies), users=len(user_ids), ratings=len(frame)),
        ),
        movies=movies,
        movie_ids=np.array([m.movie_id for m in movies], dtype=np.int64),
        movie_vectors=movie_vectors,
        movie_index=movie_index,
        user_ids=user_ids,
        user_vectors=user_vectors,
        user_index=user_index,
        rated_ptr=rated_ptr,
        rated_rows=rated_rows,
        rated_values=rated_values,
        rated_timestamps=rated_timestamps,
        ease_items=ease_items,
        ease_weights=ease_weights,
        tail_items=tail_items,
        tail_weights=tail_weights,
    )


def training_lists(ranker: Ranker, user_ids: Sequence[int], width: int | None = None) -> TrainingLists:
    """Prompt-less requests of these users (ids known to ranker.index) through retrieval and signals:
    each user's candidate pool (or its `width` best by the weighted sum), with its features."""
    index = ranker.index
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(user_ids), BATCH):
        profiles = [ranker.profile(index.user_row[u]) for u in user_ids[start : start + BATCH]]
        batch, values = ranker.candidates_and_signals([RankRequest("", None, p, 10) for p in profiles])
        scored = ranker.weighted_sum(batch, values)
        positions, keep = shortlist_of(scored.total, width or batch.valid.shape[1])
        rows = np.arange(len(profiles))
        candidates = listed({"c": batch.candidates}, rows, positions)["c"]
        user_ratings = np.array([len(p.rated_rows) for p in profiles])
        parts.append(
            (
                candidates,
                keep,
                candidate_features(
                    signals.names(),
                    listed(scored.calibrated, rows, positions),
                    listed(values, rows, positions),
                    keep,
                    ranker.movie_ratings[candidates],
                    user_ratings,
                    scored.applies,
                ),
            )
        )
    width = max((p[0].shape[1] for p in parts), default=0)

    def stacked(i: int, fill: float) -> np.ndarray:
        if not parts:
            return np.zeros(
                (0, 0) if i < 2 else (0, 0, n_features(len(signals.names()))), dtype=[np.int64, bool, np.float32][i]
            )
        return np.concatenate(
            [
                np.pad(p[i], [(0, 0), (0, width - p[i].shape[1])] + [(0, 0)] * (p[i].ndim - 2), constant_values=fill)
                for p in parts
            ]
        )

    return TrainingLists(list(user_ids), stacked(0, 0), stacked(1, False), stacked(2, 0.0))


def mark_positives(lists: TrainingLists, later: pd.DataFrame, movie_row: dict[int, int]) -> TrainingLists:
    """The shortlisted movies each user rated >= LIKED in `later` (user_id, movie_id, rating)."""
    liked = (
        later[later["rating"] >= LIKED]
        .groupby("user_id")["movie_id"]
        .apply(lambda ids: [movie_row[m] for m in ids if m in movie_row])
    )
    positive = np.zeros(lists.valid.shape, dtype=bool)
    for i, user_id in enumerate(lists.user_ids):
        wanted = liked.get(user_id)
        if wanted:
            positive[i] = np.isin(lists.candidates[i], wanted) & lists.valid[i]
    return replace(lists, positive=positive)


def train_learned_ranker(
    movies: list[Movie],
    movie_vectors: np.ndarray,
    frame: pd.DataFrame,
    config: RankingConfig,
    taste_vectors: str,
    ease_lambda: float,
    exact_search_max: int,
    seed: int,
    epochs: int,
    progress: bool = True,
    source: dict[str, str] | None = None,
    *,
    ease_max_items: int = 0,
    tail: tuple[int, float] = (0, 0.0),
) -> tuple[LearnedScorer | None, LearnedRecord]:
    """Train on the ratings `frame` (see the module docstring). Returns (model or None, the manifest's
    record: how it was trained, the loss curve, or why no model was trained)."""
    started = time.monotonic()
    earlier, later = temporal_split(frame)
    inner = memory_artifact(
        movies,
        movie_vectors,
        earlier,
        taste_vectors,
        ease_lambda,
        exact_search_max,
        ease_max_items=ease_max_items,
        tail=tail,
    )
    ranker = Ranker(inner, config.replace(ranker="weighted_sum"))
    lists = mark_positives(training_lists(ranker, sorted(inner.user_row)), later, inner.movie_row)
    trained_on = int(lists.positive.any(axis=1).sum())
    info = LearnedRecord(
        config=training_config(config, taste_vectors, ease_lambda, seed, epochs, source),
        ratings=len(frame),
        trained_on_ratings=len(frame),
        training={
            "users": len(lists.user_ids),
            "users with a later liked movie in their pool": trained_on,
            "earlier ratings": len(earlier),
            "later ratings": len(later),
        },
    )
    if trained_on < MIN_TRAINING_USERS:
        info = replace(
            info,
            skipped=(
                f"only {trained_on} users have a later liked movie in their shortlist "
                f"(at least {MIN_TRAINING_USERS} are needed): no model, the weighted sum serves"
            ),
        )
        log.info("learned ranker: %s", info.skipped)
        return None, info
    with tqdm(total=epochs, desc="training the learned ranker", unit="epoch", disable=not progress) as bar:
        scorer = train_scorer(
            signals.names(),
            lists.features,
            lists.valid,
            lists.positive,
            hidden=HIDDEN,
            epochs=epochs,
            seed=seed,
            progress=lambda _: bar.update(),
            negatives=NEGATIVES,
        )
    try:
        LearnedScorer.from_arrays(scorer.arrays())  # checks the shapes and that every weight is finite
    except ValueError as e:  # training diverged: no model rather than a broken one
        info = replace(info, skipped=f"training did not give a usable model ({e}): the weighted sum serves")
        log.warning("learned ranker: %s", info.skipped)
        return None, info
    info = replace(info, curve=tuple(scorer.curve), seconds=round(time.monotonic() - started, 2))
    log.info(
        "learned ranker trained on %d users in %.1fs (final validation loss %.4f)",
        trained_on,
        info.seconds,
        scorer.curve[-1]["validation"],
    )
    return scorer, info


def training_config(
    config: RankingConfig,
    taste_vectors: str,
    ease_lambda: float,
    seed: int,
    epochs: int,
    source: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What a model's training depends on besides the new ratings (a model is carried over only when
    equal): `source` names the ratings file, any filter and the encoder's fingerprint."""
    return {
        "source": source or {},
        "match_candidates": config.match_candidates,
        "collaborative_candidates": config.collaborative_candidates,
        "features": list(signals.names()),
        "hidden": list(HIDDEN),
        "epochs": epochs,
        "seed": seed,
        "negatives": NEGATIVES,
        "taste_vectors": taste_vectors,
        "ease_lambda": ease_lambda,
        "candidate_movies": config.candidate_movies,
        "similar_users": config.similar_users,
        "weights": {**config.weights_for(), **{f"anonymous {k}": v for k, v in config.weights_for(True).items()}},
    }


def carried_model(
    previous: Path | None, config: dict[str, Any], ratings: int, retrain_share: float
) -> tuple[LearnedScorer | None, LearnedRecord | None]:
    """The previous version's model, when it was trained the same way (`config`, which includes the
    ratings source) on nearly the same ratings (the count moved by less than `retrain_share` of it,
    as feedback does between reindexes): a reindex need not pay for training. (None, None) when it
    must be retrained."""
    if previous is None or retrain_share <= 0:
        return None, None
    try:
        manifest = read_manifest(previous)
        entry = manifest.learned
        if entry is None or entry.file is None or entry.config != config:
            return None, None
        # Older manifests record only "ratings" (then the same count).
        then = entry.trained_on_ratings if entry.trained_on_ratings is not None else entry.ratings or 0
        if not then or abs(ratings - then) >= retrain_share * then:
            return None, None
        file = previous / entry.file
        if sha256_file(file) != entry.sha256:
            log.warning("learned ranker of %s does not match its checksum: training a new one", previous)
            return None, None
        scorer = read_scorer(file)
    except (OSError, ValueError, ArtifactError) as e:
        log.warning("learned ranker of %s unusable (%s): training a new one", previous, e)
        return None, None
    # The same training record, now for this index (the writer adds the new file and checksum).
    info = replace(
        entry,
        file=None,
        sha256=None,
        carried_over_from=manifest.index_version,
        ratings=ratings,
        trained_on_ratings=then,
    )
    log.info(
        "learned ranker carried over from %s (trained on %d ratings, now %d; retrain_share %.2f)",
        info.carried_over_from,
        then,
        ratings,
        retrain_share,
    )
    return scorer, info
