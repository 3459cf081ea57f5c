"""Finding the four input files in a data folder, by Kaggle's or MovieLens's names, or explicitly."""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.diagnostics import DataError
from movierec.indexer.datafiles import find_data_files
from movierec.settings import Settings

TMDB = ("tmdb_5000_movies.csv", "tmdb_5000_credits.csv")


def make(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("x\n", encoding="utf-8")
    return folder


def test_kaggle_names_are_found(tmp_path: Path) -> None:
    data = make(tmp_path / "data", *TMDB, "ratings_small.csv", "links_small.csv")
    files = find_data_files(Settings(data_dir=data))
    assert files.movies == data / "tmdb_5000_movies.csv"
    assert files.credits == data / "tmdb_5000_credits.csv"
    assert files.ratings == data / "ratings_small.csv"
    assert files.links == data / "links_small.csv"
    assert files.as_dict() == {
        "movies": files.movies,
        "credits": files.credits,
        "ratings": files.ratings,
        "links": files.links,
    }


def test_movielens_names_are_found(tmp_path: Path) -> None:
    data = make(tmp_path / "data", *TMDB, "ratings.csv", "links.csv")
    files = find_data_files(Settings(data_dir=data))
    assert (files.ratings, files.links) == (data / "ratings.csv", data / "links.csv")


def test_kaggle_names_come_first_when_both_exist(tmp_path: Path) -> None:
    data = make(tmp_path / "data", *TMDB, "ratings.csv", "links.csv", "ratings_small.csv", "links_small.csv")
    files = find_data_files(Settings(data_dir=data))
    assert (files.ratings, files.links) == (data / "ratings_small.csv", data / "links_small.csv")


def test_explicit_paths_win(tmp_path: Path) -> None:
    data = make(tmp_path / "data", *TMDB, "ratings.csv", "links.csv")
    elsewhere = make(tmp_path / "elsewhere", "my_movies.csv", "my_credits.csv", "my_ratings.csv", "my_links.csv")
    settings = Settings(data_dir=data, movies_csv=elsewhere / "my_movies.csv", ratings_csv=elsewhere / "my_ratings.csv")
    files = find_data_files(settings)
    assert files.movies == elsewhere / "my_movies.csv"
    assert files.ratings == elsewhere / "my_ratings.csv"
    assert files.credits == data / "tmdb_5000_credits.csv"
    assert files.links == data / "links.csv"


def test_all_explicit_paths_need_no_data_folder(tmp_path: Path) -> None:
    elsewhere = make(tmp_path / "elsewhere", "a.csv", "b.csv", "c.csv", "d.csv")
    settings = Settings(
        data_dir=tmp_path / "does-not-exist",
        movies_csv=elsewhere / "a.csv",
        credits_csv=elsewhere / "b.csv",
        ratings_csv=elsewhere / "c.csv",
        links_csv=elsewhere / "d.csv",
    )
    files = find_data_files(settings)
    assert [files.movies, files.credits, files.ratings, files.links] == [
        elsewhere / n for n in ("a.csv", "b.csv", "c.csv", "d.csv")
    ]


@pytest.mark.parametrize(
    "absent,expected",
    [
        ("tmdb_5000_movies.csv", ["tmdb_5000_movies.csv"]),
        ("tmdb_5000_credits.csv", ["tmdb_5000_credits.csv"]),
        ("ratings.csv", ["ratings_small.csv", "ratings.csv"]),
        ("links.csv", ["links_small.csv", "links.csv"]),
    ],
)
def test_missing_file_names_the_expected_names(tmp_path: Path, absent: str, expected: list[str]) -> None:
    names = [n for n in (*TMDB, "ratings.csv", "links.csv") if n != absent]
    data = make(tmp_path / "data", *names)
    with pytest.raises(DataError) as info:
        find_data_files(Settings(data_dir=data))
    message = str(info.value)
    assert str(data) in message
    for name in expected:
        assert name in message


def test_missing_explicit_file_is_named(tmp_path: Path) -> None:
    data = make(tmp_path / "data", *TMDB, "ratings.csv", "links.csv")
    missing = tmp_path / "nowhere" / "links.csv"
    with pytest.raises(DataError) as info:
        find_data_files(Settings(data_dir=data, links_csv=missing))
    assert info.value.path == str(missing) and str(missing) in str(info.value)


def test_missing_data_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        find_data_files(Settings(data_dir=tmp_path / "no-such-folder"))
    assert str(tmp_path / "no-such-folder") in str(info.value)
