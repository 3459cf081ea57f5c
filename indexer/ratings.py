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
        # Blank lines are kept (and counted) so that row i is line i + 2 of the file.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False)
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
    if len(bad) > 3:
        report.skipped[reason] += len(bad) - 3


def _blank(frame: pd.DataFrame) -> pd.Series:
    return frame.fillna("").astype(str).apply(lambda c: c.str.strip() == "").all(axis=1)


def _integers(report: LoadReport, frame: pd.DataFrame, column: str, usable: pd.Series) -> pd.Series:
    """Parse an integer column; rows still `usable` whose value is not a whole number are counted."""
    values = pd.to_numeric(frame[column], errors="coerce")
    whole = values.notna() & np.isfinite(values) & (values == np.floor(values)) & (values.abs() < 2**53)
    _skip_rows(report, frame, usable & ~whole, f"{column} is not a whole number", column)
    return values.where(whole)


def load_links(path: Path) -> tuple[dict[int, int], LoadReport]:
    """MovieLens movieId -> TMDB id. Rows without a usable tmdbId, or repeating a movieId, are counted and left out."""
    report = LoadReport(str(path))
    frame = _read_csv(path, LINK_COLUMNS)
    report.rows_read = len(frame)
    blank = _blank(frame)
    report.skipped.update({"blank line": int(blank.sum())} if blank.any() else {})
    usable = ~blank
    movie = _integers(report, frame, "movieId", usable)
    usable &= movie.notna()
    # tmdbId sometimes appears as "862.0"; an empty cell means "no TMDB entry".
    no_tmdb = usable & (frame["tmdbId"].fillna("").str.strip() == "")
    _skip_rows(report, frame, no_tmdb, "no tmdbId", "tmdbId")
    usable &= ~no_tmdb
    tmdb = _integers(report, frame, "tmdbId", usable)
    usable &= tmdb.notna()
    repeated = usable & movie.duplicated(keep="first")
    _skip_rows(report, frame, repeated, "movieId repeated (first row kept)", "movieId")
    usable &= ~repeated
    links = dict(zip(movie[usable].astype(np.int64).tolist(), tmdb[usable].astype(np.int64).tolist()))
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

    blank = _blank(frame)
    report.skipped.update({"blank line": int(blank.sum())} if blank.any() else {})
    ok = ~blank
    parsed = pd.DataFrame(index=frame.index)
    for column in ("userId", "movieId"):
        parsed[column] = _integers(report, frame, column, ok)
        ok &= parsed[column].notna()
    parsed["rating"] = pd.to_numeric(frame["rating"], errors="coerce")
    _skip_rows(report, frame, ok & parsed["rating"].isna(), "rating is not a number", "rating")
    ok &= parsed["rating"].notna()
    out_of_range = ok & ~parsed["rating"].between(MIN_RATING, MAX_RATING)
    _skip_rows(report, frame, out_of_range, f"rating outside {MIN_RATING}-{MAX_RATING}", "rating")
    ok &= ~out_of_range
    parsed["timestamp"] = _integers(report, frame, "timestamp", ok)
    ok &= parsed["timestamp"].notna()

    tmdb = parsed["movieId"].map(lambda m: links.get(int(m)) if pd.notna(m) else None)
    unmapped = ok & tmdb.isna()
    _skip_rows(report, frame, unmapped, "movieId has no tmdbId in the links file", "movieId")
    ok &= ~unmapped
    outside = ok & ~tmdb.isin(catalogue_ids)
    if outside.any():
        report.skipped["movie not in the catalogue"] += int(outside.sum())
    ok &= ~outside

    kept = pd.DataFrame(
        {
            "user_id": parsed.loc[ok, "userId"].astype(np.int64),
            "movie_id": tmdb[ok].astype(np.int64),
            "rating": parsed.loc[ok, "rating"].astype(np.float32),
            "timestamp": parsed.loc[ok, "timestamp"].astype(np.int64),
        }
    )
    # Several MovieLens ids can map to one TMDB id, and a user can rate twice: the latest wins.
    kept = kept.sort_values(["user_id", "movie_id", "timestamp"], kind="stable")
    duplicate = kept.duplicated(["user_id", "movie_id"], keep="last")
    if duplicate.any():
        report.skipped["older rating of the same user and movie"] += int(duplicate.sum())
    kept = kept[~duplicate].reset_index(drop=True)
    report.rows_used = len(kept)
    return Ratings(kept, report, links_report)
