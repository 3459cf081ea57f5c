"""The bundled sample: loads cleanly, and its synthetic ratings are reproducible from the script."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import SAMPLE_DATA

from movierec.indexer.catalogue import load_catalogue
from movierec.indexer.ratings import load_ratings
from movierec.indexer.sample_users import make_sample_ratings


def test_sample_loads_without_skipping_anything() -> None:
    catalogue = load_catalogue(SAMPLE_DATA / "tmdb_5000_movies.csv", SAMPLE_DATA / "tmdb_5000_credits.csv")
    assert 90 <= len(catalogue.entries) <= 130
    assert not catalogue.movies_report.skipped and not catalogue.credits_report.skipped
    ratings = load_ratings(SAMPLE_DATA / "ratings.csv", SAMPLE_DATA / "links.csv", catalogue.movie_ids)
    assert ratings.ratings_report.rows_used == ratings.ratings_report.rows_read > 1000
    assert ratings.frame["user_id"].nunique() >= 100


def test_the_script_regenerates_the_shipped_ratings(tmp_path: Path) -> None:
    make_sample_ratings(SAMPLE_DATA / "tmdb_5000_movies.csv", tmp_path)
    for name in ("ratings.csv", "links.csv"):
        shipped = hashlib.sha256((SAMPLE_DATA / name).read_bytes()).hexdigest()
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == shipped, f"{name} differs"
