"""Loading the TMDB catalogue: movies + credits, both credits formats, and what gets counted."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from movierec.diagnostics import DataError
from movierec.indexer.catalogue import MOVIE_COLUMNS, load_catalogue, load_credits, movie_text

# Kaggle's "TMDB 5000" movies header, in its own column order (genres/keywords come before overview).
KAGGLE_MOVIE_HEADER = (
    "budget",
    "genres",
    "homepage",
    "id",
    "keywords",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "production_companies",
    "production_countries",
    "release_date",
    "revenue",
    "runtime",
    "spoken_languages",
    "status",
    "tagline",
    "title",
    "vote_average",
    "vote_count",
)
CREDITS_HEADER = ("movie_id", "title", "cast", "crew")


def _objects(*names: str) -> str:
    return json.dumps([{"id": i + 1, "name": n} for i, n in enumerate(names)])


def movie_row(movie_id: Any, title: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "budget": "1000",
        "genres": _objects("Drama"),
        "homepage": "",
        "id": movie_id,
        "keywords": _objects("river"),
        "original_language": "en",
        "original_title": title,
        "overview": f"An overview of {title}.",
        "popularity": "12.5",
        "production_companies": "[]",
        "production_countries": "[]",
        "release_date": "1999-03-31",
        "revenue": "0",
        "runtime": "100",
        "spoken_languages": "[]",
        "status": "Released",
        "tagline": f"The tagline of {title}",
        "title": title,
        "vote_average": "7.5",
        "vote_count": "321",
    }
    row.update(fields)
    return row


def reduced_credits(movie_id: Any, title: str, cast: list[str], directors: list[str]) -> dict[str, Any]:
    """The reduced format: cast objects with only name/order, crew with only the director(s)."""
    return {
        "movie_id": movie_id,
        "title": title,
        "cast": json.dumps([{"name": n, "order": i} for i, n in enumerate(cast)]),
        "crew": json.dumps([{"department": "Directing", "job": "Director", "name": d} for d in directors]),
    }


def write_csv(path: Path, header: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(header))
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_movies(tmp_path: Path, rows: list[dict[str, Any]], header: tuple[str, ...] = KAGGLE_MOVIE_HEADER) -> Path:
    return write_csv(tmp_path / "tmdb_5000_movies.csv", header, rows)


def write_credits(tmp_path: Path, rows: list[dict[str, Any]], header: tuple[str, ...] = CREDITS_HEADER) -> Path:
    return write_csv(tmp_path / "tmdb_5000_credits.csv", header, rows)


# Kaggle's full credits format: many keys per cast object, the whole crew.
def _kaggle_cast(name: str, order: int, cast_id: int) -> dict[str, Any]:
    return {
        "cast_id": cast_id,
        "character": f"Character of {name}",
        "credit_id": f"52fe48{cast_id:06d}",
        "gender": 2,
        "id": 1000 + cast_id,
        "name": name,
        "order": order,
    }


def _kaggle_crew(name: str, job: str, department: str, n: int) -> dict[str, Any]:
    return {
        "credit_id": f"5602a8a7{n:06d}",
        "department": department,
        "gender": 0,
        "id": 5000 + n,
        "job": job,
        "name": name,
    }


FULL_CAST = [  # deliberately out of billing order in the file
    _kaggle_cast("Dana Fourth", 3, 11),
    _kaggle_cast("Alice First", 0, 12),
    _kaggle_cast("Carol Third", 2, 13),
    _kaggle_cast("Bob Second", 1, 14),
    _kaggle_cast("Eve Fifth", 4, 15),
]
FULL_CREW = [
    _kaggle_crew("Paula Producer", "Producer", "Production", 1),
    _kaggle_crew("Dora Director", "Director", "Directing", 2),
    _kaggle_crew("Sam Screenwriter", "Screenplay", "Writing", 3),
    _kaggle_crew("Ed Editor", "Editor", "Editing", 4),
    _kaggle_crew("Carl Codirector", "Co-Director", "Directing", 5),
    _kaggle_crew("Dan Director", "Director", "Directing", 6),
    _kaggle_crew("Eli Executive", "Executive Producer", "Production", 7),
]


def full_credits(movie_id: Any, title: str) -> dict[str, Any]:
    return {"movie_id": movie_id, "title": title, "cast": json.dumps(FULL_CAST), "crew": json.dumps(FULL_CREW)}


# --- credits formats ---------------------------------------------------------------------------------------------


def test_reduced_credits_format(tmp_path: Path) -> None:
    path = write_credits(
        tmp_path,
        [
            reduced_credits(10, "One", ["A1", "A2", "A3", "A4"], ["D1"]),
            reduced_credits(20, "Two", ["B1"], ["D2", "D3"]),
            reduced_credits(30, "Three", [], []),
        ],
    )
    credits, report = load_credits(path)
    assert credits == {10: (["D1"], ["A1", "A2", "A3", "A4"]), 20: (["D2", "D3"], ["B1"]), 30: ([], [])}
    assert (report.rows_read, report.rows_used) == (3, 3)
    assert not report.skipped and not report.warnings


def test_full_kaggle_credits_format_takes_only_directors_and_cast_by_order(tmp_path: Path) -> None:
    path = write_credits(tmp_path, [full_credits(19995, "Avatar")])
    credits, report = load_credits(path)
    directors, cast = credits[19995]
    assert directors == ["Dora Director", "Dan Director"]  # both kept, in file order; no other job
    assert cast == ["Alice First", "Bob Second", "Carol Third", "Dana Fourth", "Eve Fifth"]  # sorted by "order"
    assert (report.rows_read, report.rows_used) == (1, 1)
    assert not report.warnings


def test_credits_cast_without_order_keeps_file_order(tmp_path: Path) -> None:
    row = {"movie_id": 5, "title": "X", "cast": json.dumps([{"name": n} for n in ("Z", "Y", "X", "W")]), "crew": "[]"}
    credits, _ = load_credits(write_credits(tmp_path, [row]))
    assert credits[5] == ([], ["Z", "Y", "X", "W"])


def test_credits_duplicate_and_bad_movie_id_counted(tmp_path: Path) -> None:
    path = write_credits(
        tmp_path,
        [
            reduced_credits(1, "One", ["First"], ["D"]),
            reduced_credits("abc", "Bad", ["X"], ["D"]),
            reduced_credits(1, "One again", ["Second"], ["E"]),
        ],
    )
    credits, report = load_credits(path)
    assert credits == {1: (["D"], ["First"])}  # first row kept
    assert report.rows_read == 3 and report.rows_used == 1
    assert sum(report.skipped.values()) == 2
    assert any("line 3" in e and "movie_id" in e for e in report.examples)
    assert any("line 4" in e and "movie_id" in e for e in report.examples)


# --- merged catalogue and the embedded text ----------------------------------------------------------------------


def test_catalogue_text_contains_everything_that_describes_the_movie(tmp_path: Path) -> None:
    movies = write_movies(
        tmp_path,
        [
            movie_row(
                19995,
                "Lanterns Over Tide",
                release_date="2009-12-10",
                tagline="Every light has a keeper.",
                overview="A lighthouse keeper's daughter charts the storms that hide a smuggler's route.",
                genres=_objects("Action", "Adventure", "Fantasy"),
                keywords=_objects("culture clash", "space war"),
            )
        ],
    )
    credits = write_credits(tmp_path, [full_credits(19995, "Lanterns Over Tide")])
    catalogue = load_catalogue(movies, credits)
    assert catalogue.movie_ids == [19995]
    entry = catalogue.entries[0]
    movie = entry.movie
    assert (movie.movie_id, movie.title, movie.year) == (19995, "Lanterns Over Tide", 2009)
    assert movie.genres == ("Action", "Adventure", "Fantasy")
    assert (movie.vote_average, movie.vote_count, movie.popularity) == (7.5, 321, 12.5)

    text = entry.text
    assert text.startswith("Lanterns Over Tide (2009)")
    for part in (
        "Every light has a keeper",
        "A lighthouse keeper's daughter charts the storms that hide a smuggler's route",
        "Genres: Action, Adventure, Fantasy",
        "Keywords: culture clash, space war",
        "Directed by Dora Director, Dan Director",
        "Starring Alice First, Bob Second, Carol Third",
    ):
        assert part in text, part
    for absent in (
        "Dana Fourth",
        "Eve Fifth",
        "Paula Producer",
        "Sam Screenwriter",
        "Ed Editor",
        "Carl Codirector",
        "Eli Executive",
    ):
        assert absent not in text, absent


def test_catalogue_with_reduced_credits(tmp_path: Path) -> None:
    movies = write_movies(tmp_path, [movie_row(1, "One"), movie_row(2, "Two")])
    credits = write_credits(
        tmp_path,
        [reduced_credits(2, "Two", ["P", "Q", "R", "S"], ["Dir Two"]), reduced_credits(1, "One", ["K"], ["Dir One"])],
    )
    catalogue = load_catalogue(movies, credits)
    assert catalogue.movie_ids == [1, 2]  # movies file order
    one, two = (e.text for e in catalogue.entries)
    assert "Directed by Dir One" in one and "Starring K." in one
    assert "Directed by Dir Two" in two and "Starring P, Q, R." in two and "S." not in two.split("Starring")[1]
    assert not catalogue.movies_report.warnings and not catalogue.credits_report.warnings


def test_movie_text_exact() -> None:
    text = movie_text(
        "Heat",
        1995,
        "A Los Angeles crime saga.",
        "  Cops and robbers.  ",
        ["Crime", "Drama"],
        ["heist"],
        ["Michael Mann"],
        ["Al Pacino", "Robert De Niro"],
    )
    assert text == (
        "Heat (1995). A Los Angeles crime saga. Cops and robbers. Genres: Crime, Drama. "
        "Keywords: heist. Directed by Michael Mann. Starring Al Pacino, Robert De Niro."
    )


def test_movie_text_leaves_out_empty_parts_and_unknown_year() -> None:
    assert movie_text("Untitled", 0, "", "   ", [], [], [], []) == "Untitled."


# --- problems in the files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["id", "title", "overview", "genres", "release_date", "vote_count"])
def test_missing_movies_column_is_a_data_error(tmp_path: Path, column: str) -> None:
    header = tuple(c for c in KAGGLE_MOVIE_HEADER if c != column)
    movies = write_movies(tmp_path, [{k: v for k, v in movie_row(1, "One").items() if k != column}], header)
    credits = write_credits(tmp_path, [reduced_credits(1, "One", ["A"], ["D"])])
    with pytest.raises(DataError) as info:
        load_catalogue(movies, credits)
    message = str(info.value)
    assert str(movies) in message and "line 1" in message and column in message
    assert info.value.path == str(movies) and info.value.line == 1


@pytest.mark.parametrize("column", ["movie_id", "cast", "crew"])
def test_missing_credits_column_is_a_data_error(tmp_path: Path, column: str) -> None:
    movies = write_movies(tmp_path, [movie_row(1, "One")])
    header = tuple(c for c in CREDITS_HEADER if c != column)
    row = {k: v for k, v in reduced_credits(1, "One", ["A"], ["D"]).items() if k != column}
    credits = write_credits(tmp_path, [row], header)
    with pytest.raises(DataError) as info:
        load_catalogue(movies, credits)
    message = str(info.value)
    assert str(credits) in message and "line 1" in message and column in message
    assert info.value.path == str(credits) and info.value.line == 1


def test_all_required_movie_columns_are_checked(tmp_path: Path) -> None:
    # A header holding only the required columns is enough.
    row = {c: movie_row(7, "Seven")[c] for c in MOVIE_COLUMNS}
    movies = write_movies(tmp_path, [row], MOVIE_COLUMNS)
    credits = write_credits(tmp_path, [reduced_credits(7, "Seven", ["A"], ["D"])])
    assert load_catalogue(movies, credits).movie_ids == [7]


def test_malformed_genres_json_counts_a_warning_and_keeps_the_row(tmp_path: Path) -> None:
    movies = write_movies(
        tmp_path,
        [
            movie_row(1, "Multi", overview="First line of the overview,\nsecond line of the overview."),  # lines 2-3
            movie_row(2, "Broken", genres='[{"id": 18, "name": "Drama"'),  # line 4
            movie_row(3, "Fine"),  # line 5
        ],
    )
    credits = write_credits(
        tmp_path, [reduced_credits(i, t, ["A"], ["D"]) for i, t in ((1, "Multi"), (2, "Broken"), (3, "Fine"))]
    )
    catalogue = load_catalogue(movies, credits)
    report = catalogue.movies_report
    assert catalogue.movie_ids == [1, 2, 3]
    broken = catalogue.entries[1]
    assert broken.movie.genres == () and "Genres:" not in broken.text
    assert catalogue.entries[0].movie.genres == ("Drama",)
    assert sum(report.warnings.values()) == 1
    assert any("genres" in reason for reason in report.warnings)
    assert not report.skipped and report.rows_used == report.rows_read == 3
    assert len(report.examples) == 1
    example = report.examples[0]
    assert "line 4" in example and "'genres'" in example and str(movies) in example
    # The multi-line overview survives intact.
    assert "First line of the overview,\nsecond line of the overview" in catalogue.entries[0].text


def test_genres_that_are_not_a_list_of_objects_count_a_warning(tmp_path: Path) -> None:
    movies = write_movies(tmp_path, [movie_row(1, "One", genres='{"name": "Drama"}', keywords='["a", "b"]')])
    credits = write_credits(tmp_path, [reduced_credits(1, "One", ["A"], ["D"])])
    catalogue = load_catalogue(movies, credits)
    assert catalogue.entries[0].movie.genres == ()
    assert sum(catalogue.movies_report.warnings.values()) == 2
    assert any("line 2" in e and "'genres'" in e for e in catalogue.movies_report.examples)
    assert any("line 2" in e and "'keywords'" in e for e in catalogue.movies_report.examples)


def test_malformed_cast_json_in_credits_counts_a_warning(tmp_path: Path) -> None:
    rows = [reduced_credits(1, "One", ["A"], ["D"]), reduced_credits(2, "Two", ["B"], ["E"])]
    rows[1]["cast"] = "[{not json"
    credits, report = load_credits(write_credits(tmp_path, rows))
    assert credits[2] == (["E"], [])
    assert sum(report.warnings.values()) == 1
    assert any("line 3" in e and "'cast'" in e for e in report.examples)


def test_malformed_genres_line_number_within_a_multiline_record(tmp_path: Path) -> None:
    movies = write_movies(
        tmp_path,
        [
            movie_row(1, "Broken", genres="[{oops", overview="Line one\nline two\nline three"),  # lines 2-4
        ],
    )
    credits = write_credits(tmp_path, [reduced_credits(1, "Broken", ["A"], ["D"])])
    report = load_catalogue(movies, credits).movies_report
    assert sum(report.warnings.values()) == 1
    # In Kaggle's column order genres comes before overview, so the bad cell is on line 2.
    assert "line 2," in report.examples[0], report.examples


def test_bad_and_duplicate_ids_empty_date_and_missing_credits(tmp_path: Path) -> None:
    movies = write_movies(
        tmp_path,
        [
            movie_row(1, "First"),  # line 2
            movie_row("12x", "Not an id"),  # line 3: skipped
            movie_row("", "Empty id"),  # line 4: skipped
            movie_row(1, "First again"),  # line 5: duplicate, skipped
            movie_row(4, "No date", release_date=""),  # line 6: year 0
            movie_row(5, "No credits"),  # line 7: warning, empty cast
            movie_row(6, "  "),  # line 8: empty title, skipped
        ],
    )
    credits = write_credits(tmp_path, [reduced_credits(i, "t", ["Actor"], ["Director"]) for i in (1, 4, 6)])
    catalogue = load_catalogue(movies, credits)
    report = catalogue.movies_report
    assert catalogue.movie_ids == [1, 4, 5]
    by_id = {e.movie.movie_id: e for e in catalogue.entries}
    assert by_id[1].movie.title == "First"  # first row kept
    assert by_id[4].movie.year == 0 and by_id[4].text.startswith("No date.") and "(0)" not in by_id[4].text
    assert "Starring" not in by_id[5].text and "Directed by" not in by_id[5].text

    assert report.rows_read == 7 and report.rows_used == 3
    assert report.rows_read == report.rows_used + sum(report.skipped.values())
    assert report.skipped["id is not an integer"] == 2
    assert report.skipped["duplicate id (first row kept)"] == 1
    assert report.skipped["empty title"] == 1
    assert sum(report.warnings.values()) == 1
    assert any("credits" in reason for reason in report.warnings)
    examples = "\n".join(report.examples)
    assert "line 3, column 'id'" in examples and "line 4, column 'id'" in examples
    assert "line 5, column 'id'" in examples and "line 7" in examples


def test_non_numeric_votes_and_popularity_fall_back_to_zero(tmp_path: Path) -> None:
    movies = write_movies(tmp_path, [movie_row(1, "One", vote_average="n/a", vote_count="", popularity="inf")])
    credits = write_credits(tmp_path, [reduced_credits(1, "One", ["A"], ["D"])])
    movie = load_catalogue(movies, credits).entries[0].movie
    assert (movie.vote_average, movie.vote_count, movie.popularity) == (0.0, 0, 0.0)


def test_no_usable_rows_is_a_data_error(tmp_path: Path) -> None:
    movies = write_movies(tmp_path, [movie_row("x", "Bad")])
    credits = write_credits(tmp_path, [])
    with pytest.raises(DataError, match="no usable movie rows") as info:
        load_catalogue(movies, credits)
    assert info.value.path == str(movies)


@pytest.mark.parametrize("which", ["movies", "credits"])
def test_file_that_does_not_exist_is_a_data_error(tmp_path: Path, which: str) -> None:
    movies = write_movies(tmp_path, [movie_row(1, "One")])
    credits = write_credits(tmp_path, [reduced_credits(1, "One", ["A"], ["D"])])
    missing = tmp_path / "nowhere" / f"{which}.csv"
    args = (missing, credits) if which == "movies" else (movies, missing)
    with pytest.raises(DataError) as info:
        load_catalogue(*args)
    assert str(missing) in str(info.value)
    assert info.value.path == str(missing)


def test_byte_order_mark_header_spaces_and_ragged_rows(tmp_path: Path) -> None:
    good = write_movies(tmp_path, [movie_row(1, "Fine"), movie_row(2, "Also fine")])
    text = good.read_text(encoding="utf-8").splitlines()
    header = ", ".join(text[0].split(","))  # spaces after the commas
    ragged = text[2] + ',"one field too many"'
    bommed = tmp_path / "bom.csv"
    bommed.write_text("\ufeff" + "\n".join([header, text[1], ragged]) + "\n", encoding="utf-8")
    credits = write_credits(tmp_path, [reduced_credits(1, "Fine", ["A"], ["D"])])
    catalogue = load_catalogue(bommed, credits)
    assert catalogue.movie_ids == [1]
    assert catalogue.movies_report.skipped["wrong number of fields"] == 1
    assert any("line 3" in e for e in catalogue.movies_report.examples)
