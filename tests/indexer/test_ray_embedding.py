"""The embedding step on a real local Ray instance: the same vectors as in process, through the whole build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from movierec.artifact import load_artifact
from movierec.embedding import Encoder
from movierec.indexer.catalogue import load_catalogue
from movierec.indexer.ray_embedding import RayEncoder
from movierec.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"

pytestmark = pytest.mark.slow


def test_ray_vectors_equal_the_in_process_ones_row_for_row(encoder: Encoder) -> None:
    catalogue = load_catalogue(SAMPLE / "tmdb_5000_movies.csv", SAMPLE / "tmdb_5000_credits.csv")
    # Every movie's text and some short ones, in an order unlike the length order Ray batches in.
    texts = [e.text for e in catalogue.entries][:60] + ["a comedy", "", "romance, nothing scary"]
    texts = texts[::-1]
    done: list[int] = []
    on_ray = RayEncoder(encoder.model_dir, workers=2).encode(texts, progress=done.append)
    in_process = encoder.encode(texts)
    assert on_ray.shape == in_process.shape == (len(texts), encoder.dimensions)
    assert np.allclose(np.linalg.norm(on_ray, axis=1), 1.0, atol=1e-5)
    cosines = (on_ray * in_process).sum(axis=1)
    assert cosines.min() >= 1 - 1e-5, f"row {int(cosines.argmin())}: cosine {cosines.min()}"
    assert sum(done) == len(texts)
    assert RayEncoder(encoder.model_dir, workers=1).encode([]).shape == (0, encoder.dimensions)


def test_movierec_index_with_ray_builds_the_same_movie_vectors(
    tmp_path: Path, sample_settings: Settings, encoder: Encoder
) -> None:
    """`movierec-index --ray` with an empty cache: the build embeds every movie on Ray (two actors of a local
    instance) and its movie vectors equal those of the session's in-process build (made with the session's
    encoder, so the Ray actors load the same backend)."""
    index_dir = tmp_path / "ray-index"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.indexer.cli",
            "--data-dir",
            str(SAMPLE),
            "--index-dir",
            str(index_dir),
            "--ray",
            "--ray-workers",
            "2",
            "--no-learned",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MOVIEREC_INDEX_ENCODER_BACKEND": encoder.backend},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    movies = len(load_catalogue(SAMPLE / "tmdb_5000_movies.csv", SAMPLE / "tmdb_5000_credits.csv").entries)
    assert f"({movies} movie texts embedded" in run.stdout
    from movierec.artifact import current_version

    on_ray = load_artifact(index_dir / str(current_version(index_dir)))
    reference = load_artifact(sample_settings.index.index_dir / str(current_version(sample_settings.index.index_dir)))
    assert on_ray.movie_ids.tolist() == reference.movie_ids.tolist()
    cosines = (on_ray.movie_vectors * reference.movie_vectors).sum(axis=1)
    assert cosines.min() >= 1 - 1e-5


def test_an_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.indexer.cli",
            "--data-dir",
            str(SAMPLE),
            "--index-dir",
            str(tmp_path / "i"),
            "--ray-address",
            "127.0.0.1:1",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "could not start or reach Ray (127.0.0.1:1)" in run.stderr
