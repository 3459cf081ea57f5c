"""Loading MovieLens ratings and links, mapping onto TMDB ids, and counting every row left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec.diagnostics import DataError
from movierec.indexer.ratings import load_links, load_ratings

RATINGS_HEADER = "userId,movieId,rating,timestamp"
LINKS_HEADER = "movieId,imdbId,tmdbId"

NOT_A_NUMBER = "rating is not a number"
OUT_OF_RANGE = "rating outside 0.5-5.0"
UNMAPPED = "movieId has no tmdbId in the links file"
OUTSIDE = "movie not in the catalogue"
OLDER = "older rating of the same user and movie"


def write(path: Path, header: str, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join([header, *lines]) + newline).encode("utf-8"))
    return path


def links_file(tmp_path: Path, lines: list[str], newline: str = "\n") -> Path:
    return write(tmp_path / "links.csv", LINKS_HEADER, lines, newline)


def ratings_file(tmp_path: Path, lines: list[str], newline: str = "\n") -> Path:
    return write(tmp_path / "ratings.csv", RATINGS_HEADER, lines, newline)


def balanced(report) -> bool:  # noqa: ANN001
    return report.rows_read == report.rows_used + sum(report.skipped.values())


def rows(ratings) -> list[tuple[int, int, float, int]]:  # noqa: ANN001
    f = ratings.frame
    return sorted(zip(f["user_id"].tolist(), f["movie_id"].tolist(), f["rating"].tolist(), f["timestamp"].tolist()))


# --- links ---------------------------------------------------------------------------------------------------------


def test_links_float_tmdb_id_and_empty_tmdb_id(tmp_path: Path) -> None:
    links, report = load_links(links_file(tmp_path, ["1,0114709,862.0", "2,0113497,8844", "3,0113228,", "x,1,5"]))
    assert links == {1: 862, 2: 8844}
    assert all(type(k) is int and type(v) is int for k, v in links.items())
    assert report.rows_read == 4 and report.rows_used == 2
    assert report.skipped["no tmdbId"] == 1
    assert report.skipped["movieId is not a whole number"] == 1
    assert any("line 4" in e and "'tmdbId'" in e for e in report.examples)
    assert any("line 5" in e and "'movieId'" in e for e in report.examples)
    assert balanced(report)


def test_links_duplicate_movie_id_is_counted(tmp_path: Path) -> None:
    links, report = load_links(links_file(tmp_path, ["1,1,862", "2,2,8844", "1,1,9999"]))
    assert len(links) == 2
    assert balanced(report), report.as_dict()


def test_links_missing_column_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path / "links.csv", "movieId,imdbId", ["1,0114709"])
    with pytest.raises(DataError) as info:
        load_links(path)
    assert str(path) in str(info.value) and "tmdbId" in str(info.value) and info.value.line == 1


# --- ratings -------------------------------------------------------------------------------------------------------


def test_crlf_line_endings_parse(tmp_path: Path) -> None:
    links = links_file(tmp_path, ["1,0114709,862", "2,0113497,8844.0"], newline="\r\n")
    ratings = ratings_file(tmp_path, ["1,1,4.0,964982703", "1,2,3.5,964981247", "2,2,5,964982224"], newline="\r\n")
    result = load_ratings(ratings, links, {862, 8844})
    assert rows(result) == [(1, 862, 4.0, 964982703), (1, 8844, 3.5, 964981247), (2, 8844, 5.0, 964982224)]
    assert result.ratings_report.rows_used == result.ratings_report.rows_read == 3
    assert not +result.ratings_report.skipped
    assert result.links_report.rows_used == 2


def test_frame_columns_and_dtypes(tmp_path: Path) -> None:
    result = load_ratings(ratings_file(tmp_path, ["7,1,4.5,100"]), links_file(tmp_path, ["1,1,862.0"]), [862])
    frame = result.frame
    assert list(frame.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert [str(t) for t in frame.dtypes] == ["int64", "int64", "float32", "int64"]
    assert rows(result) == [(7, 862, 4.5, 100)]


def test_unlinked_movies_and_movies_outside_the_catalogue_are_counted(tmp_path: Path) -> None:
    links = links_file(tmp_path, ["1,1,862", "2,2,", "3,3,11"])
    ratings = ratings_file(
        tmp_path,
        [
            "1,1,4,10",  # kept
            "1,2,4,11",  # movieId 2 has an empty tmdbId -> unmapped
            "1,99,4,12",  # movieId 99 is not in links -> unmapped
            "2,3,4,13",  # tmdb 11 not in the catalogue
            "2,1,3,14",  # kept
        ],
    )
    result = load_ratings(ratings, links, {862})
    report = result.ratings_report
    assert rows(result) == [(1, 862, 4.0, 10), (2, 862, 3.0, 14)]
    assert report.skipped[UNMAPPED] == 2
    assert report.skipped[OUTSIDE] == 1
    assert result.links_report.skipped["no tmdbId"] == 1
    assert any("line 3" in e and "'movieId'" in e for e in report.examples)
    assert any("line 4" in e and "'movieId'" in e for e in report.examples)
    assert balanced(report)


def test_non_numeric_rating_is_counted_with_its_line_and_column(tmp_path: Path) -> None:
    ratings = ratings_file(tmp_path, ["1,1,4,10", "1,2,4,11", "2,1,four,12", "3,1,,13"])
    result = load_ratings(ratings, links_file(tmp_path, ["1,1,862", "2,2,8844"]), {862, 8844})
    report = result.ratings_report
    assert report.skipped[NOT_A_NUMBER] == 2
    assert report.rows_used == 2
    assert any(e.startswith(f"{ratings}, line 4, column 'rating'") and "four" in e for e in report.examples), (
        report.examples
    )
    assert any("line 5, column 'rating'" in e for e in report.examples), report.examples
    assert balanced(report)


@pytest.mark.parametrize("column,value", [("userId", "bob"), ("movieId", "m1"), ("timestamp", "yesterday")])
def test_non_integer_id_and_timestamp_cells_are_counted(tmp_path: Path, column: str, value: str) -> None:
    cells = {"userId": "1", "movieId": "1", "rating": "4", "timestamp": "10"}
    cells[column] = value
    line = ",".join(cells[c] for c in ("userId", "movieId", "rating", "timestamp"))
    result = load_ratings(ratings_file(tmp_path, ["2,1,4,9", line]), links_file(tmp_path, ["1,1,862"]), {862})
    report = result.ratings_report
    assert report.skipped[f"{column} is not a whole number"] == 1
    assert any(f"line 3, column {column!r}" in e for e in report.examples), report.examples
    assert rows(result) == [(2, 862, 4.0, 9)]
    assert balanced(report)


def test_ratings_out_of_range_are_counted_and_bounds_kept(tmp_path: Path) -> None:
    ratings = ratings_file(tmp_path, ["1,1,7.0,10", "2,1,0,11", "3,1,0.5,12", "4,1,5.0,13", "5,1,-1,14"])
    result = load_ratings(ratings, links_file(tmp_path, ["1,1,862"]), {862})
    report = result.ratings_report
    assert report.skipped[OUT_OF_RANGE] == 3
    assert rows(result) == [(3, 862, 0.5, 12), (4, 862, 5.0, 13)]
    assert any("line 2, column 'rating'" in e for e in report.examples)
    assert balanced(report)


def test_duplicate_user_movie_later_timestamp_wins(tmp_path: Path) -> None:
    # The newer rating comes first in the file: the timestamp decides, not the file order.
    ratings = ratings_file(tmp_path, ["1,1,2.0,200", "1,1,4.0,100", "2,1,3.0,50", "2,1,1.0,60"])
    result = load_ratings(ratings, links_file(tmp_path, ["1,1,862"]), {862})
    assert rows(result) == [(1, 862, 2.0, 200), (2, 862, 1.0, 60)]
    assert result.ratings_report.skipped[OLDER] == 2
    assert balanced(result.ratings_report)


def test_two_movielens_ids_mapping_to_one_tmdb_id_give_one_row(tmp_path: Path) -> None:
    links = links_file(tmp_path, ["1,1,862", "2,2,862.0"])
    ratings = ratings_file(tmp_path, ["1,1,3.0,100", "1,2,4.5,300", "2,2,2.0,5"])
    result = load_ratings(ratings, links, {862})
    assert rows(result) == [(1, 862, 4.5, 300), (2, 862, 2.0, 5)]
    assert result.ratings_report.skipped[OLDER] == 1
    assert balanced(result.ratings_report)


def test_rows_read_equals_used_plus_skipped_on_messy_seeded_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(1234)
    links = ["1,1,862", "2,2,862", "3,3,8844", "4,4,", "5,5,11", "6,6,550.0"]
    users = ["1", "2", "3", "x", ""]
    movies = ["1", "2", "3", "4", "5", "6", "7", "?"]
    values = ["0.5", "1", "3.5", "5", "5.0", "0", "7", "-2", "abc", ""]
    times = ["100", "200", "300", "100", "t", ""]
    lines = [
        ",".join((rng.choice(users), rng.choice(movies), rng.choice(values), rng.choice(times))) for _ in range(500)
    ]
    result = load_ratings(ratings_file(tmp_path, lines), links_file(tmp_path, links), {862, 8844, 550})
    report = result.ratings_report
    assert report.rows_read == 500
    assert 0 < report.rows_used < 500
    assert balanced(report), report.as_dict()
    frame = result.frame
    assert not frame.duplicated(["user_id", "movie_id"]).any()
    assert frame["movie_id"].isin([862, 8844, 550]).all()
    assert frame["rating"].between(0.5, 5.0).all()


def test_line_numbers_after_a_blank_line(tmp_path: Path) -> None:
    ratings = ratings_file(tmp_path, ["1,1,4,10", "", "1,1,bad,11"])  # the bad rating is on line 4
    report = load_ratings(ratings, links_file(tmp_path, ["1,1,862"]), {862}).ratings_report
    assert report.skipped[NOT_A_NUMBER] == 1
    assert any("line 4, column 'rating'" in e for e in report.examples), report.examples


@pytest.mark.parametrize("line", ["1,inf,4,10", "inf,1,4,10", "1,1,4,inf"])
def test_non_finite_numbers_are_counted_not_fatal(tmp_path: Path, line: str) -> None:
    result = load_ratings(ratings_file(tmp_path, ["2,1,4,9", line]), links_file(tmp_path, ["1,1,862"]), {862})
    assert rows(result) == [(2, 862, 4.0, 9)]
    assert balanced(result.ratings_report)


@pytest.mark.parametrize("column", ["userId", "movieId", "rating", "timestamp"])
def test_ratings_missing_column_is_a_data_error(tmp_path: Path, column: str) -> None:
    header = ",".join(c for c in RATINGS_HEADER.split(",") if c != column)
    path = write(tmp_path / "ratings.csv", header, ["1,1,4"])
    with pytest.raises(DataError) as info:
        load_ratings(path, links_file(tmp_path, ["1,1,862"]), {862})
    message = str(info.value)
    assert str(path) in message and column in message and "line 1" in message
    assert info.value.path == str(path)


def test_missing_ratings_or_links_file_is_a_data_error(tmp_path: Path) -> None:
    links = links_file(tmp_path, ["1,1,862"])
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError) as info:
        load_ratings(missing, links, {862})
    assert str(missing) in str(info.value)
    with pytest.raises(DataError) as info:
        load_ratings(ratings_file(tmp_path, ["1,1,4,10"]), missing, {862})
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("value", ["1.5", "1e30"])
def test_fractional_or_huge_user_ids_are_counted_not_truncated(tmp_path: Path, value: str) -> None:
    result = load_ratings(
        ratings_file(tmp_path, ["2,1,4,9", f"{value},1,4,10"]), links_file(tmp_path, ["1,1,862"]), {862}
    )
    assert rows(result) == [(2, 862, 4.0, 9)]
    assert result.ratings_report.skipped["userId is not a whole number"] == 1
    assert balanced(result.ratings_report)


def test_a_clean_file_reports_no_zero_counts(tmp_path: Path) -> None:
    result = load_ratings(ratings_file(tmp_path, ["1,1,4,9"]), links_file(tmp_path, ["1,1,862"]), {862})
    assert result.ratings_report.as_dict()["skipped"] == {}
