"""The offline indexer: data files -> one new, atomically published index version."""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from movierec.artifact import BUILDING_PREFIX, IndexData, current_version, prune, publish, sha256_file, write_artifact
from movierec.diagnostics import ArtifactError
from movierec.embedding import BackendChoice, TextEncoder, onnx_folder, settings_cpu, settings_encoder
from movierec.hardware import usable_cores
from movierec.indexer.cache import EmbeddingCache
from movierec.indexer.catalogue import Catalogue, load_catalogue
from movierec.indexer.datafiles import DataFiles, find_data_files
from movierec.indexer.ease import fit_ease, fit_tail
from movierec.indexer.learn import carried_model, train_learned_ranker, training_config
from movierec.indexer.ratings import Ratings, load_ratings
from movierec.indexer.ray_embedding import RayEncoder
from movierec.manifest import (
    BuilderRecord,
    Counts,
    CpuRecord,
    InputFile,
    Inputs,
    LearnedRecord,
    Manifest,
    ModelRecord,
    StoreInput,
)
from movierec.settings import Settings
from movierec.store import describe, read_store
from movierec.taste import group_by_user, taste_vectors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    version: str
    path: Path
    movies: int
    users: int
    ratings: int
    embedded: int  # movie texts that were not in the cache
    seconds: float
    learned: str = "none"  # "trained", "carried over from <version>", or why there is none


def new_version() -> str:
    """Sortable by build time, unique even for builds in the same millisecond."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + uuid.uuid4().hex[:6]


def embed_catalogue(
    catalogue: Catalogue, encoder: TextEncoder, cache: EmbeddingCache, progress: bool = True
) -> tuple[np.ndarray, int]:
    """Movie vectors float32 (n_movies, d), from the cache where possible. Returns (vectors, newly embedded)."""
    texts = [e.text for e in catalogue.entries]
    vectors = np.zeros((len(texts), encoder.dimensions), dtype=np.float32)
    cached = cache.get_many(texts)
    for i, v in cached.items():
        vectors[i] = v
    missing = [i for i in range(len(texts)) if i not in cached]
    if missing:
        with tqdm(total=len(missing), desc="embedding movies", unit="movie", disable=not progress) as bar:
            fresh = encoder.encode([texts[i] for i in missing], progress=bar.update)
        vectors[missing] = fresh
        cache.put_many([texts[i] for i in missing], fresh)
    return vectors, len(missing)


def catalogue_encoder(settings: Settings, encoder: TextEncoder, index_dir: Path) -> TextEncoder:
    """What embeds the catalogue: `encoder`, or with `embed_on_ray` the same model on Ray (the prompts the
    build embeds itself, for calibration, are few and stay in process)."""
    if not settings.index.embed_on_ray:
        return encoder
    return RayEncoder(
        encoder.model_dir,
        settings.encoder.max_seq_length,
        settings.encoder.embed_batch_size,
        settings.encoder.embed_batch_tokens,
        workers=settings.index.ray_workers,
        address=settings.index.ray_address or None,
        backend=encoder.backend,  # the backend the cache is keyed by
        onnx_dir=onnx_folder(settings, index_dir),
    )


def calibration_queries(
    encoder: TextEncoder, user_vectors: np.ndarray, seed: int, prompts: int = 200, users: int = 200
) -> list[np.ndarray]:
    """What the server searches the indexes with, as groups that must each keep the target recall
    (float32 (q, d) each): the embeddings of generated everyday requests, short and long (word
    lists, no data set text), and a sample of users' taste vectors. Prompts sit between the
    catalogue's clusters and need more probes than taste vectors, which a mixed sample would hide."""
    from movierec.prompt_generator import prompts as generated_prompts

    rng = np.random.default_rng(seed)
    tastes = user_vectors[rng.choice(len(user_vectors), size=min(users, len(user_vectors)), replace=False)]
    short = encoder.encode(generated_prompts("short", prompts, seed))
    mixed = encoder.encode(generated_prompts("mixed", prompts, seed + 1))
    return [short.astype(np.float32), mixed.astype(np.float32), tastes.astype(np.float32)]


def user_arrays(frame: pd.DataFrame, movie_row: dict[int, int]) -> tuple[np.ndarray, ...]:
    """(user_ids int64 (u,), rated_ptr int64 (u+1,), rated_rows int32 (r,), rated_values float32 (r,),
    rated_timestamps int64 (r,)), each user's ratings oldest first."""
    frame = frame.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    user_ids, user_index = np.unique(frame["user_id"].to_numpy(), return_inverse=True)
    rated_ptr = group_by_user(user_index, len(user_ids))
    rated_rows = frame["movie_id"].map(movie_row).to_numpy().astype(np.int32)
    return (
        user_ids.astype(np.int64),
        rated_ptr,
        rated_rows,
        frame["rating"].to_numpy(np.float32),
        frame["timestamp"].to_numpy(np.int64),
    )


def merge_feedback(
    csv_ratings: pd.DataFrame, store: pd.DataFrame, catalogue_ids: set[int]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """CSV ratings plus the ratings store: for the same user and movie the later rating wins
    (by timestamp; at equal times the store's, then the later store row). Returns (frame, counts)."""
    on_catalogue = store["movie_id"].isin(catalogue_ids)
    stored = store[on_catalogue].assign(source=1)
    frame = pd.concat([csv_ratings.assign(source=0, seq=0), stored], ignore_index=True)
    frame = frame.sort_values(["user_id", "movie_id", "timestamp", "source", "seq"], kind="stable")
    latest = frame.drop_duplicates(["user_id", "movie_id"], keep="last")
    counts = {
        "rows": len(store),
        "not in the catalogue": int((~on_catalogue).sum()),
        "replaced by a later rating": len(frame) - len(latest),
    }
    columns = ["user_id", "movie_id", "rating", "timestamp"]
    latest = latest[columns].astype(
        {"user_id": np.int64, "movie_id": np.int64, "rating": np.float32, "timestamp": np.int64}
    )
    return latest.reset_index(drop=True), counts


def build_index(
    settings: Settings,
    encoder: TextEncoder | None = None,
    progress: bool = True,
    ratings_filter: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ratings_note: str | None = None,
) -> BuildResult:
    """Load the data, embed (with the cache), compute user vectors, fit EASE, train the learned ranker,
    write and publish a new version.

    Only one build runs at a time per index_dir (a lock file); the previous version stays
    loadable until the new one is complete. `ratings_filter` narrows the ratings (the evaluation
    builds on a training split this way); `ratings_note` says how, in the manifest.
    """
    started = time.monotonic()
    index_dir = settings.index.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArtifactError(f"{index_dir}: another build is running (lock held on {index_dir / '.lock'})") from None
        files = find_data_files(settings)
        catalogue = load_catalogue(files.movies, files.credits)
        ratings = load_ratings(files.ratings, files.links, catalogue.movie_ids)
        if ratings_filter is not None:
            ratings.frame = ratings_filter(ratings.frame).reset_index(drop=True)
        store_url = settings.effective_store_url  # SQLite in index_dir unless store_url/store_path say otherwise
        store_frame, store_seq = read_store(store_url)
        ratings.frame, store_counts = merge_feedback(ratings.frame, store_frame, set(catalogue.movie_ids))
        log.info(
            "ratings store %s: %d ratings up to seq %d merged (%d not in the catalogue)",
            describe(store_url),
            store_counts["rows"],
            store_seq,
            store_counts["not in the catalogue"],
        )
        for report in (catalogue.movies_report, catalogue.credits_report, ratings.ratings_report, ratings.links_report):
            log.info("%s", report.summary())
            for example in report.examples[:5]:
                log.info("  e.g. %s", example)

        encoder = encoder or settings_encoder(settings, index_dir, lazy=True, catalogue=True)
        choice: BackendChoice | None = getattr(encoder, "choice", None)  # the lazy encoder's, with its CPU
        fingerprint = encoder.fingerprint
        cache = EmbeddingCache(settings.index.cache_dir or index_dir / "cache", fingerprint, encoder.dimensions)
        try:
            movie_vectors, embedded = embed_catalogue(
                catalogue, catalogue_encoder(settings, encoder, index_dir), cache, progress
            )
        finally:
            cache.close()

        movies = [e.movie for e in catalogue.entries]
        movie_row = {m.movie_id: i for i, m in enumerate(movies)}
        user_ids, rated_ptr, rated_rows, rated_values, rated_timestamps = user_arrays(ratings.frame, movie_row)
        user_vectors = taste_vectors(settings.index.taste_vectors, movie_vectors, rated_ptr, rated_rows, rated_values)
        started_ease = time.monotonic()
        # The inversion is the one dense linear algebra of the build: give BLAS every core for it (the
        # process keeps BLAS single-threaded otherwise; movierec.runtime says why).
        with threadpool_limits(limits=usable_cores(), user_api="blas"):
            ease_items, ease_weights = fit_ease(
                rated_ptr, rated_rows, len(movies), settings.index.ease_lambda, settings.index.ease_max_items
            )
            tail = fit_tail(
                rated_ptr,
                rated_rows,
                len(movies),
                ease_items,
                ease_weights,
                settings.index.tail_neighbours,
                settings.index.tail_shrink,
                seed=settings.index.learned_seed,
            )
        log.info(
            "EASE over %d rated movies (lambda %g, at most %s), item-kNN over %d beyond, in %.1fs",
            len(ease_items),
            settings.index.ease_lambda,
            settings.index.ease_max_items or "all",
            len(tail[0]),
            time.monotonic() - started_ease,
        )

        learned, learned_info = None, None
        if settings.index.learned_train:
            config = settings.ranking
            previous = current_version(index_dir)
            # The ratings file and any filter on it: a model is carried over only from the same source.
            source = {
                "ratings": sha256_file(files.ratings),
                "filter": ratings_note or "",
                "encoder": fingerprint,
                "exact_search_max": str(settings.index.exact_search_max),
            }
            learned, learned_info = carried_model(
                index_dir / previous if previous else None,
                training_config(
                    config,
                    settings.index.taste_vectors,
                    settings.index.ease_lambda,
                    settings.index.learned_seed,
                    settings.index.learned_epochs,
                    source,
                ),
                len(ratings.frame),
                settings.index.learned_retrain_share,
            )
            if learned is None:
                learned, learned_info = train_learned_ranker(
                    movies,
                    movie_vectors,
                    ratings.frame,
                    config,
                    settings.index.taste_vectors,
                    settings.index.ease_lambda,
                    settings.index.exact_search_max,
                    settings.index.learned_seed,
                    settings.index.learned_epochs,
                    progress,
                    source,
                    ease_max_items=settings.index.ease_max_items,
                    tail=(settings.index.tail_neighbours, settings.index.tail_shrink),
                )

        version = new_version()
        store = StoreInput(
            path=describe(store_url),  # no password
            seq=store_seq,
            rows=store_counts["rows"],
            not_in_catalogue=store_counts["not in the catalogue"],
            replaced_by_a_later_rating=store_counts["replaced by a later rating"],
        )
        manifest = _manifest(
            version,
            settings,
            encoder,
            choice,
            fingerprint,
            files,
            catalogue,
            ratings,
            len(user_ids),
            store=store,
            ratings_note=ratings_note,
            learned=learned_info,
        )
        building = index_dir / f"{BUILDING_PREFIX}{version}"
        calibration = None
        if max(len(movies), len(user_ids)) > settings.index.exact_search_max:  # an approximate index: calibrate it
            calibration = calibration_queries(encoder, user_vectors, settings.index.learned_seed)
        write_artifact(
            building,
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
                exact_search_max=settings.index.exact_search_max,
                calibration_queries=calibration,
            ),
        )
        path = publish(index_dir, building, version)
        removed = prune(index_dir, settings.index.keep_versions)
        if removed:
            log.info("pruned old versions: %s", ", ".join(removed))
    learned_note = (
        "none (learned_train is off)"
        if learned_info is None
        else f"carried over from {learned_info.carried_over_from}"
        if learned_info.carried_over_from is not None
        else "trained"
        if learned is not None
        else f"none ({learned_info.skipped})"
    )
    return BuildResult(
        version, path, len(movies), len(user_ids), len(rated_rows), embedded, time.monotonic() - started, learned_note
    )


def _manifest(
    version: str,
    settings: Settings,
    encoder: TextEncoder,
    choice: BackendChoice | None,
    fingerprint: str,
    files: DataFiles,
    catalogue: Catalogue,
    ratings: Ratings,
    n_users: int,
    *,
    store: StoreInput,
    ratings_note: str | None,
    learned: LearnedRecord | None,
) -> Manifest:
    """The build's manifest; write_artifact adds the file checksums and how each index searches."""
    reports = {
        "movies": catalogue.movies_report,
        "credits": catalogue.credits_report,
        "ratings": ratings.ratings_report,
        "links": ratings.links_report,
    }
    return Manifest(
        index_version=version,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        builder=BuilderRecord(movierec=__import__("movierec").__version__, pid=os.getpid()),
        model=ModelRecord(
            name=encoder.name,
            path=str(encoder.model_dir),
            fingerprint=fingerprint,
            backend=encoder.backend,
            backend_requested=choice.requested if choice else encoder.backend,
            max_seq_length=encoder.max_seq_length,
        ),
        # The CPU that chose the backend (a "torch-bf16" asked for runs as "torch" without native bf16).
        cpu=CpuRecord.of((choice and choice.cpu) or settings_cpu(settings)),
        dimensions=encoder.dimensions,
        counts=Counts(movies=len(catalogue.entries), users=n_users, ratings=len(ratings.frame)),
        user_vectors={"centroid": "centroid of rated movies' embeddings, unit length"}.get(
            settings.index.taste_vectors, "sum of (rating - user's mean) x movie embedding, unit length"
        ),
        ease_lambda=settings.index.ease_lambda,
        ease_max_items=settings.index.ease_max_items,
        tail_neighbours=settings.index.tail_neighbours,
        tail_shrink=settings.index.tail_shrink,
        inputs=Inputs(
            files={
                name: InputFile(path=str(path), sha256=sha256_file(path), report=reports[name].record())
                for name, path in files.as_dict().items()
            },
            store=store,
        ),
        store_seq=store.seq,
        ratings_filter=ratings_note or None,
        learned=learned,
    )
