"""The index artifact: one folder per index version, published atomically.

Layout of `index_dir`::

    CURRENT                  name of the version being served (replaced atomically)
    <version>/               one complete build
        manifest.json        model, dimensions, counts, input checksums, file checksums (movierec.manifest)
        movies.faiss         inner-product index over movie embeddings, row i = movies.jsonl line i
                             (exact IndexFlatIP, or IVF above a size: movierec.vectorindex)
        users.faiss          the same over user taste vectors, row j = users.npz user_ids[j]
        movies.jsonl         movie metadata
        users.npz            user ids and each user's rated movies (CSR)
        ease.npz             the EASE item-item weights over the movies that have ratings
        learned.npz          optional: the learned ranker's weights (movierec.learned), checksum and
                             training record in the manifest's `learned`
    .building-<version>/     a build in progress (never read; removed by the next build)
    cache/                   embedding cache (see movierec.indexer.cache)

A build writes everything into `.building-<version>`, fsyncs it, renames it to `<version>`, then
replaces CURRENT. A crash at any point leaves the previous CURRENT and its folder intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import scipy.sparse

from movierec.diagnostics import ArtifactError
from movierec.domain import Movie
from movierec.learned import MODEL_FILE, LearnedScorer, read_scorer, write_scorer
from movierec.manifest import MANIFEST, LearnedRecord, Manifest, SearchRecord, read_manifest
from movierec.vectorindex import build_index, stored_vectors

CURRENT = "CURRENT"
MOVIES_INDEX = "movies.faiss"
USERS_INDEX = "users.faiss"
MOVIES_META = "movies.jsonl"
USERS_DATA = "users.npz"
EASE_DATA = "ease.npz"
DATA_FILES = (MOVIES_INDEX, USERS_INDEX, MOVIES_META, USERS_DATA, EASE_DATA)
BUILDING_PREFIX = ".building-"

log = logging.getLogger(__name__)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (so that a rename inside it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class IndexArtifact:
    """A loaded index version: everything the ranking needs, as arrays.

    movie_vectors: float32 (n_movies, d), unit rows; user_vectors: float32 (n_users, d).
    rated_ptr: int64 (n_users + 1,); rated_rows: int32 (n_ratings,) movie rows rated by user j are
    rated_rows[rated_ptr[j]:rated_ptr[j+1]], with ratings rated_values (float32) and unix-second
    rated_timestamps (int64) alongside.
    ease_items: int32 (a,) movie rows that had ratings at build time (at most ease_max_items, the most
    rated); ease_weights: float32 (a, a), the EASE item-item matrix over them (zero diagonal).
    tail_items: int32 (t,) the other rated movies; tail_weights: CSR float32 (n_movies, t), their
    item-kNN weights on EASE's scale (indexer/ease.py). A user's collaborative scores over
    collaborative_items are the sums of the rows of both matrices for the movies they rated.
    """

    path: Path
    manifest: Manifest
    movies: list[Movie]
    movie_ids: np.ndarray
    movie_vectors: np.ndarray
    movie_index: faiss.Index
    user_ids: np.ndarray
    user_vectors: np.ndarray
    user_index: faiss.Index
    rated_ptr: np.ndarray
    rated_rows: np.ndarray
    rated_values: np.ndarray
    rated_timestamps: np.ndarray
    ease_items: np.ndarray
    ease_weights: np.ndarray
    # The learned ranker (None: the weighted sum serves), and why there is none when the manifest names one.
    learned: LearnedScorer | None = None
    learned_problem: str | None = None
    tail_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    tail_weights: scipy.sparse.csr_matrix | None = None

    def __post_init__(self) -> None:
        if self.tail_weights is None:
            self.tail_weights = scipy.sparse.csr_matrix((len(self.movies), len(self.tail_items)), dtype=np.float32)
        self.user_row: dict[int, int] = {int(u): j for j, u in enumerate(self.user_ids.tolist())}
        self.movie_row: dict[int, int] = {int(m): i for i, m in enumerate(self.movie_ids.tolist())}

    @property
    def collaborative_items(self) -> np.ndarray:
        """int32 (a + t,): the movie rows a collaborative score exists for, EASE's then the tail's."""
        return np.concatenate([self.ease_items, self.tail_items]).astype(np.int32)

    @property
    def version(self) -> str:
        return self.manifest.index_version

    @property
    def dimensions(self) -> int:
        return self.manifest.dimensions

    def rated(self, user_row: int) -> np.ndarray:
        """Movie rows rated by the user at `user_row`: int32 (k,)."""
        return self.rated_rows[self.rated_ptr[user_row] : self.rated_ptr[user_row + 1]]

    def history(self, user_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The user's ratings, oldest first: (movie rows int32 (k,), ratings float32 (k,), unix seconds int64 (k,))."""
        span = slice(self.rated_ptr[user_row], self.rated_ptr[user_row + 1])
        return self.rated_rows[span], self.rated_values[span], self.rated_timestamps[span]


@dataclass(frozen=True)
class IndexData:
    """What one version's files are written from (write_artifact).

    manifest: the build's record; the writer fills in its `files` and `search`, and adds the model's
    file and checksum to its `learned` (how the model was trained, or why there is none).
    movies: n_movies, movie i is movie_vectors row i; movie_vectors float32 (n_movies, d);
    user_ids int64 (n_users,); user_vectors float32 (n_users, d); the ratings, EASE and tail arrays
    as IndexArtifact has them (tail_weights None: no tail).
    learned: the learned ranker, saved as MODEL_FILE (None: the manifest's `learned` says why not).
    Each index is exact up to `exact_search_max` vectors, IVF above (the manifest's `search` says);
    `calibration_queries`: groups of what the server will search both indexes with (prompt
    embeddings, taste vectors; float32 (q, d) each), for calibrating an approximate index
    (movierec.vectorindex).
    """

    manifest: Manifest
    movies: list[Movie]
    movie_vectors: np.ndarray
    user_ids: np.ndarray
    user_vectors: np.ndarray
    rated_ptr: np.ndarray
    rated_rows: np.ndarray
    rated_values: np.ndarray
    rated_timestamps: np.ndarray
    ease_items: np.ndarray
    ease_weights: np.ndarray
    tail_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    tail_weights: scipy.sparse.csr_matrix | None = None
    learned: LearnedScorer | None = None
    exact_search_max: int = 200_000
    calibration_queries: list[np.ndarray] | None = None


def write_artifact(folder: Path, data: IndexData) -> None:
    """Write one version's files from `data` into `folder` (which must be new) and fsync them."""
    folder.mkdir(parents=True)
    movie_index, movie_choice = build_index(data.movie_vectors, data.exact_search_max, queries=data.calibration_queries)
    faiss.write_index(movie_index, str(folder / MOVIES_INDEX))
    user_index, user_choice = build_index(data.user_vectors, data.exact_search_max, queries=data.calibration_queries)
    faiss.write_index(user_index, str(folder / USERS_INDEX))
    with open(folder / MOVIES_META, "w", encoding="utf-8") as f:
        for m in data.movies:
            f.write(
                json.dumps(
                    {
                        "movie_id": m.movie_id,
                        "title": m.title,
                        "year": m.year,
                        "genres": list(m.genres),
                        "vote_average": m.vote_average,
                        "vote_count": m.vote_count,
                        "popularity": m.popularity,
                        "keywords": list(m.keywords),
                        "runtime": m.runtime,
                        "language": m.language,
                        "directors": list(m.directors),
                        "cast": list(m.cast),
                        "overview": m.overview,
                        "tagline": m.tagline,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    with open(folder / USERS_DATA, "wb") as f:
        np.savez(
            f,
            user_ids=data.user_ids.astype(np.int64),
            rated_ptr=data.rated_ptr.astype(np.int64),
            rated_rows=data.rated_rows.astype(np.int32),
            rated_values=data.rated_values.astype(np.float32),
            rated_timestamps=data.rated_timestamps.astype(np.int64),
        )
    with open(folder / EASE_DATA, "wb") as f:
        tail_weights = scipy.sparse.csr_matrix(
            data.tail_weights if data.tail_weights is not None else (len(data.movies), len(data.tail_items)),
            dtype=np.float32,
        )
        np.savez(
            f,
            items=data.ease_items.astype(np.int32),
            weights=data.ease_weights.astype(np.float32),
            tail_items=data.tail_items.astype(np.int32),
            tail_data=tail_weights.data,
            tail_indices=tail_weights.indices.astype(np.int32),
            tail_indptr=tail_weights.indptr.astype(np.int64),
        )
    written = list(DATA_FILES)
    learned = data.manifest.learned
    if data.learned is not None:
        write_scorer(folder / MODEL_FILE, data.learned)
        learned = replace(learned or LearnedRecord(), file=MODEL_FILE, sha256=sha256_file(folder / MODEL_FILE))
        written.append(MODEL_FILE)
    manifest = replace(
        data.manifest,
        files={name: sha256_file(folder / name) for name in DATA_FILES},
        search=SearchRecord(movies=movie_choice, users=user_choice),
        learned=learned,
    )
    with open(folder / MANIFEST, "w", encoding="utf-8") as f:
        f.write(manifest.to_json())
    for name in (*written, MANIFEST):
        fsync_path(folder / name)
    fsync_path(folder)


def publish(index_dir: Path, building: Path, version: str) -> Path:
    """Move a finished build into place and point CURRENT at it (each step atomic)."""
    final = index_dir / version
    os.replace(building, final)
    fsync_path(index_dir)
    tmp = index_dir / f"{CURRENT}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(version + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_path(index_dir)
    return final


def current_version(index_dir: Path) -> str | None:
    """The version CURRENT points at, or None when there is no index yet."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ArtifactError(f"{index_dir / CURRENT}: unreadable: {e.strerror}") from e
    if not name or "/" in name or name.startswith("."):
        raise ArtifactError(f"{index_dir / CURRENT}: does not name a version folder ({name!r})")
    return name


def prune(index_dir: Path, keep: int) -> list[str]:
    """Remove old versions: keep CURRENT and the `keep` newest others; remove stale builds.

    Version names sort by build time. Returns the names removed.
    """
    current = current_version(index_dir)
    versions = sorted(
        p.name
        for p in index_dir.iterdir()
        if p.is_dir() and (p / MANIFEST).is_file() and not p.name.startswith(".") and p.name != "cache"
    )
    others = [v for v in versions if v != current]
    doomed = others[: max(0, len(others) - keep)]
    doomed += [p.name for p in index_dir.iterdir() if p.name.startswith(BUILDING_PREFIX)]
    for name in doomed:
        shutil.rmtree(index_dir / name, ignore_errors=True)
    return doomed


def load_artifact(path: Path) -> IndexArtifact:
    """Load and verify one version folder, or an index_dir (then CURRENT says which version).

    Raises ArtifactError, naming the file and the problem, for a missing, half-written or
    corrupt folder (manifest missing or unparsable, a file missing, a checksum mismatch,
    shapes that disagree with the manifest).
    """
    is_version_folder = (path / MANIFEST).exists() or any((path / n).exists() for n in DATA_FILES)
    if not is_version_folder:
        version = current_version(path)
        if version is None:
            raise ArtifactError(f"{path}: no index has been built here yet (no {CURRENT} file)")
        path = path / version
    if not path.is_dir():
        raise ArtifactError(f"{path}: index version folder not found")
    manifest = read_manifest(path)
    for name in DATA_FILES:
        expected = manifest.files.get(name)
        if not (path / name).is_file():
            raise ArtifactError(f"{path / name}: missing")
        if expected != sha256_file(path / name):
            raise ArtifactError(f"{path / name}: checksum does not match the manifest (corrupt or half-written)")
    try:
        movie_index = faiss.read_index(str(path / MOVIES_INDEX))
        user_index = faiss.read_index(str(path / USERS_INDEX))
        movies = [_movie(json.loads(line)) for line in (path / MOVIES_META).read_text(encoding="utf-8").splitlines()]
        with np.load(path / USERS_DATA) as users:
            arrays = {k: users[k] for k in ("user_ids", "rated_ptr", "rated_rows", "rated_values", "rated_timestamps")}
        with np.load(path / EASE_DATA) as ease:
            ease_items, ease_weights = ease["items"], ease["weights"]
            tail_items = ease["tail_items"] if "tail_items" in ease.files else np.zeros(0, np.int32)
            tail_parts = (
                (ease["tail_data"], ease["tail_indices"], ease["tail_indptr"]) if "tail_items" in ease.files else None
            )
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        raise ArtifactError(f"{path}: cannot read index files: {e}") from e
    d, n_movies, n_users = manifest.dimensions, manifest.counts.movies, manifest.counts.users
    if (
        (movie_index.d, movie_index.ntotal, len(movies)) != (d, n_movies, n_movies)
        or (user_index.d, user_index.ntotal, len(arrays["user_ids"])) != (d, n_users, n_users)
        or len(arrays["rated_ptr"]) != n_users + 1
        or ease_weights.shape != (len(ease_items), len(ease_items))
        or (tail_parts is not None and len(tail_parts[2]) != n_movies + 1)
    ):
        raise ArtifactError(f"{path}: index shapes disagree with {MANIFEST}")
    try:
        tail_weights = (
            scipy.sparse.csr_matrix(tail_parts, shape=(n_movies, len(tail_items)), dtype=np.float32)
            if tail_parts is not None
            else None
        )
    except ValueError as e:
        raise ArtifactError(f"{path / EASE_DATA}: unreadable tail model: {e}") from e
    if manifest.search is not None:  # an IVF index's probe count, calibrated at build time
        for index, choice in ((movie_index, manifest.search.movies), (user_index, manifest.search.users)):
            if isinstance(index, faiss.IndexIVF) and choice.nprobe:
                index.nprobe = choice.nprobe
    movie_vectors = stored_vectors(movie_index)
    user_vectors = stored_vectors(user_index)
    scorer, problem = _learned(path, manifest.learned)
    return IndexArtifact(
        path=path,
        manifest=manifest,
        movies=movies,
        movie_ids=np.array([m.movie_id for m in movies], dtype=np.int64),
        movie_vectors=movie_vectors,
        movie_index=movie_index,
        user_ids=arrays["user_ids"],
        user_vectors=user_vectors,
        user_index=user_index,
        rated_ptr=arrays["rated_ptr"],
        rated_rows=arrays["rated_rows"],
        rated_values=arrays["rated_values"],
        rated_timestamps=arrays["rated_timestamps"],
        ease_items=ease_items,
        ease_weights=ease_weights,
        learned=scorer,
        learned_problem=problem,
        tail_items=tail_items,
        tail_weights=tail_weights,
    )


def _learned(path: Path, entry: LearnedRecord | None) -> tuple[LearnedScorer | None, str | None]:
    """The learned ranker named by the manifest's entry, or (None, why not). A model that is missing or
    does not match its checksum leaves the index usable: the ranking falls back to the weighted sum."""
    if entry is None or entry.file is None:
        return None, None  # built without one: nothing to report
    file = path / entry.file
    try:
        if entry.sha256 != sha256_file(file):
            problem = f"{file}: checksum does not match the manifest (corrupt or half-written)"
        else:
            return read_scorer(file), None
    except FileNotFoundError:
        problem = f"{file}: missing"
    except (OSError, ValueError) as e:
        problem = f"{file}: unreadable: {e}"
    log.warning("learned ranker not loaded, the weighted sum serves instead: %s", problem)
    return None, problem


def _movie(record: dict[str, Any]) -> Movie:
    return Movie(
        movie_id=int(record["movie_id"]),
        title=record["title"],
        year=int(record["year"]),
        genres=tuple(record["genres"]),
        vote_average=float(record["vote_average"]),
        vote_count=int(record["vote_count"]),
        popularity=float(record["popularity"]),
        keywords=tuple(record.get("keywords", ())),
        runtime=int(record.get("runtime", 0)),
        language=str(record.get("language", "")),
        directors=tuple(record.get("directors", ())),
        cast=tuple(record.get("cast", ())),
        overview=str(record.get("overview", "")),
        tagline=str(record.get("tagline", "")),
    )
