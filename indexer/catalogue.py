"""Loading the TMDB 5000 catalogue: movies + credits merged on the movie id.

Accepts Kaggle's full credits file (cast/crew objects with many keys, whole crew) and the
reduced one (cast objects with only name/order, crew with only the director).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from movierec.diagnostics import DataError
from movierec.domain import Movie
from movierec.indexer.report import LoadReport

MOVIE_COLUMNS = (
    "id",
    "title",
    "overview",
    "tagline",
    "genres",
    "keywords",
    "release_date",
    "vote_average",
    "vote_count",
    "popularity",
)
CREDITS_COLUMNS = ("movie_id", "cast", "crew")
TOP_CAST = 3  # in the embedded text
PEOPLE_CAST = 10  # kept on the movie, for requests that name an actor

csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class CatalogueEntry:
    """A movie plus the text that represents it for the sentence encoder."""

    movie: Movie
    text: str


@dataclass
class Catalogue:
    entries: list[CatalogueEntry]
    movies_report: LoadReport
    credits_report: LoadReport

    @property
    def movie_ids(self) -> list[int]:
        return [e.movie.movie_id for e in self.entries]


def _rows(path: Path, required: tuple[str, ...], report: LoadReport) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line where the record starts, row) from a CSV file, after checking its header.

    Records may span lines (quoted newlines); blank lines are passed over; a byte-order mark and
    spaces around header names are ignored. Records with the wrong number of fields are counted
    in `report` and left out.
    """
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise DataError(path, f"cannot open: {e.strerror}") from e
    with f:
        reader = csv.reader(f)
        try:
            header = [name.strip() for name in next(reader, [])]
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(path, f"unreadable header: {e}", line=1) from e
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                path, f"missing column(s) {', '.join(missing)}; header has {', '.join(header) or 'nothing'}", line=1
            )
        consumed = reader.line_num
        try:
            for fields in reader:
                start, consumed = consumed + 1, reader.line_num
                if not fields:
                    continue
                report.rows_read += 1
                if len(fields) != len(header):
                    report.skip(
                        "wrong number of fields", f"line {start}: {len(fields)} fields, the header has {len(header)}"
                    )
                    continue
                yield start, dict(zip(header, fields))
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(path, f"unreadable CSV: {e}", line=consumed + 1) from e


def _json_list(report: LoadReport, cell: str | None, line: int, column: str) -> list[dict]:
    """Parse a JSON list-of-objects cell; a malformed cell counts as a warning and gives []."""
    if cell is None or not cell.strip():
        return []
    try:
        value = json.loads(cell)
    except json.JSONDecodeError as e:
        report.warn(
            f"malformed JSON in column {column!r} (treated as empty)",
            f"line {line}, column {column!r}: {e.msg} at char {e.pos}",
        )
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        report.warn(
            f"column {column!r} is not a JSON list of objects (treated as empty)", f"line {line}, column {column!r}"
        )
        return []
    return value


def _number(cell: str | None, default: float = 0.0) -> float:
    try:
        value = float(cell) if cell not in (None, "") else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def _year(release_date: str | None) -> int:
    text = (release_date or "").strip()
    return int(text[:4]) if len(text) >= 4 and text[:4].isdigit() else 0


def movie_text(
    title: str,
    year: int,
    tagline: str,
    overview: str,
    genres: list[str],
    keywords: list[str],
    directors: list[str],
    cast: list[str],
) -> str:
    """The text that gets embedded for one movie: what it is about, then who made it."""
    parts = [f"{title} ({year})" if year else title]
    for sentence in (tagline, overview):
        sentence = sentence.strip()
        if sentence:
            parts.append(sentence)
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    if keywords:
        parts.append("Keywords: " + ", ".join(keywords))
    if directors:
        parts.append("Directed by " + ", ".join(directors))
    if cast:
        parts.append("Starring " + ", ".join(cast))
    return ". ".join(p.rstrip(".") for p in parts) + "."


def _names(objects: list[dict]) -> list[str]:
    return [str(o["name"]).strip() for o in objects if str(o.get("name", "")).strip()]


def load_credits(path: Path) -> tuple[dict[int, tuple[list[str], list[str]]], LoadReport]:
    """movie id -> (directors, the first PEOPLE_CAST of the cast in billing order), from either credits format."""
    report = LoadReport(str(path))
    credits: dict[int, tuple[list[str], list[str]]] = {}
    for line, row in _rows(path, CREDITS_COLUMNS, report):
        try:
            movie_id = int(row["movie_id"])
        except (TypeError, ValueError):
            report.skip("movie_id is not an integer", f"line {line}, column 'movie_id': {row.get('movie_id')!r}")
            continue
        if movie_id in credits:
            report.skip("duplicate movie_id (first row kept)", f"line {line}, column 'movie_id': {movie_id}")
            continue
        cast = _json_list(report, row["cast"], line, "cast")
        # Billing order where given (both formats have it), else file order.
        cast = sorted(cast, key=lambda o: o["order"] if isinstance(o.get("order"), int) else 1 << 30)
        crew = _json_list(report, row["crew"], line, "crew")
        directors = list(dict.fromkeys(_names([c for c in crew if c.get("job") == "Director"])))
        credits[movie_id] = (directors, _names(cast)[:PEOPLE_CAST])
        report.rows_used += 1
    return credits, report


def load_catalogue(movies_csv: Path, credits_csv: Path) -> Catalogue:
    """Read the movies and credits files and merge them on the movie id.

    Raises DataError for a file that cannot be used at all (missing, unreadable, missing
    columns). Rows that cannot be used (bad id, no title, duplicate id) are skipped and counted
    in the reports; a movie without a credits row keeps an empty cast and crew (counted).
    """
    credits, credits_report = load_credits(credits_csv)
    report = LoadReport(str(movies_csv))
    entries: list[CatalogueEntry] = []
    seen: set[int] = set()
    for line, row in _rows(movies_csv, MOVIE_COLUMNS, report):
        try:
            movie_id = int(row["id"])
        except (TypeError, ValueError):
            report.skip("id is not an integer", f"line {line}, column 'id': {row.get('id')!r}")
            continue
        title = (row["title"] or "").strip()
        if not title:
            report.skip("empty title", f"line {line}, column 'title'")
            continue
        if movie_id in seen:
            report.skip("duplicate id (first row kept)", f"line {line}, column 'id': {movie_id}")
            continue
        seen.add(movie_id)
        genres = _names(_json_list(report, row["genres"], line, "genres"))
        keywords = _names(_json_list(report, row["keywords"], line, "keywords"))
        if movie_id not in credits:
            report.warn("no credits row (no director or cast)", f"line {line}, id {movie_id}")
        directors, cast = credits.get(movie_id, ([], []))
        year = _year(row["release_date"])
        movie = Movie(
            movie_id=movie_id,
            title=title,
            year=year,
            genres=tuple(genres),
            vote_average=_number(row["vote_average"]),
            vote_count=int(_number(row["vote_count"])),
            popularity=_number(row["popularity"]),
            keywords=tuple(keywords),
            runtime=max(0, int(_number(row.get("runtime")))),
            language=(row.get("original_language") or "").strip().lower(),
            directors=tuple(directors),
            cast=tuple(cast),
            overview=" ".join((row["overview"] or "").split()),
            tagline=" ".join((row["tagline"] or "").split()),
        )
        text = movie_text(
            title, year, row["tagline"] or "", row["overview"] or "", genres, keywords, directors, cast[:TOP_CAST]
        )
        entries.append(CatalogueEntry(movie, text))
        report.rows_used += 1
    if not entries:
        raise DataError(movies_csv, "no usable movie rows")
    return Catalogue(entries, report, credits_report)
