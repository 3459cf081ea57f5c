"""Loading MovieLens-style ratings and mapping them onto TMDB ids through a links file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.diagnostics import DataError
from movierec.indexer.report import LoadReport

RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
LINK_COLUMNS = ("movieId", "tmdbId")
MIN_RATING, MAX_RATING = 0.5, 5.0


@dataclass
class Ratings:
    """Ratings on catalogue movies, one row per (user, movie): the latest rating wins.

    Columns: user_id int64, movie_id int64 (TMDB id), rating float32, timestamp int64.
    """

    frame: pd.DataFrame
    ratings_report: LoadReport
    links_report: LoadReport


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as e:
        raise DataError(path, "file not found") from e
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(path, f"unreadable CSV: {e}") from e
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}; header has {', '.join(frame.columns)}", line=1)
    return frame


def _skip_rows(report: LoadReport, frame: pd.DataFrame, mask: pd.Series, reason: str, column: str) -> None:
    """Count rows under `mask` as skipped, with examples naming their line (header is line 1)."""
    bad = frame.index[mask.to_numpy()]
    for i in bad[:3]:
        report.skip(reason, f"line {i + 2}, column {column!r}: {frame.at[i, column]!r}")
    for _ in bad[3:]:
        report.skipped[reason] += 1


def load_links(path: Path) -> tuple[dict[int, int], LoadReport]:
    """MovieLens movieId -> TMDB id. Rows without a usable tmdbId are counted and left out."""
    report = LoadReport(str(path))
    frame = _read_csv(path, LINK_COLUMNS)
    report.rows_read = len(frame)
    movie = pd.to_numeric(frame["movieId"], errors="coerce")
    # tmdbId sometimes appears as "862.0"; empty cells mean "no TMDB entry".
    tmdb = pd.to_numeric(frame["tmdbId"], errors="coerce")
    _skip_rows(report, frame, movie.isna(), "movieId is not a number", "movieId")
    _skip_rows(report, frame, movie.notna() & tmdb.isna(), "no tmdbId", "tmdbId")
    ok = movie.notna() & tmdb.notna()
    links = dict(zip(movie[ok].astype(np.int64).tolist(), tmdb[ok].astype(np.int64).tolist()))
    report.rows_used = len(links)
    return links, report


def load_ratings(ratings_csv: Path, links_csv: Path, catalogue_ids: set[int] | list[int]) -> Ratings:
    """Read ratings, map them to TMDB ids and keep those on catalogue movies.

    Every row left out is counted by reason: unparsable values, rating outside 0.5-5,
    no link for the movieId, a TMDB id outside the catalogue, or an older duplicate of the
    same (user, movie).
    """
    links, links_report = load_links(links_csv)
    catalogue_ids = set(catalogue_ids)
    report = LoadReport(str(ratings_csv))
    frame = _read_csv(ratings_csv, RATING_COLUMNS)
    report.rows_read = len(frame)

    parsed = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce") for c in RATING_COLUMNS})
    for column in RATING_COLUMNS:
        mask = parsed[column].isna() & parsed[list(RATING_COLUMNS[: RATING_COLUMNS.index(column)])].notna().all(axis=1)
        _skip_rows(report, frame, mask, f"{column} is not a number", column)
    ok = parsed.notna().all(axis=1)
    out_of_range = ok & ~parsed["rating"].between(MIN_RATING, MAX_RATING)
    _skip_rows(report, frame, out_of_range, f"rating outside {MIN_RATING}-{MAX_RATING}", "rating")
    ok &= ~out_of_range

    tmdb = parsed["movieId"].map(lambda m: links.get(int(m)) if pd.notna(m) else None)
    unmapped = ok & tmdb.isna()
    _skip_rows(report, frame, unmapped, "movieId has no tmdbId in the links file", "movieId")
    ok &= ~unmapped
    outside = ok & ~tmdb.isin(catalogue_ids)
    report.skipped["movie not in the catalogue"] += int(outside.sum())
    ok &= ~outside

    kept = pd.DataFrame({
        "user_id": parsed.loc[ok, "userId"].astype(np.int64),
        "movie_id": tmdb[ok].astype(np.int64),
        "rating": parsed.loc[ok, "rating"].astype(np.float32),
        "timestamp": parsed.loc[ok, "timestamp"].astype(np.int64),
    })
    # Several MovieLens ids can map to one TMDB id, and a user can rate twice: the latest wins.
    kept = kept.sort_values(["user_id", "movie_id", "timestamp"], kind="stable")
    duplicate = kept.duplicated(["user_id", "movie_id"], keep="last")
    if duplicate.any():
        report.skipped["older rating of the same user and movie"] += int(duplicate.sum())
    kept = kept[~duplicate].reset_index(drop=True)
    report.rows_used = len(kept)
    return Ratings(kept, report, links_report)
