"""Finding the input files of a data folder by their usual names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from movierec.diagnostics import DataError
from movierec.settings import Settings

MOVIES_NAMES = ("tmdb_5000_movies.csv",)
CREDITS_NAMES = ("tmdb_5000_credits.csv",)
# Kaggle's "The Movies Dataset" names first, then MovieLens's own.
RATINGS_NAMES = ("ratings_small.csv", "ratings.csv")
LINKS_NAMES = ("links_small.csv", "links.csv")


@dataclass(frozen=True)
class DataFiles:
    movies: Path
    credits: Path
    ratings: Path
    links: Path

    def as_dict(self) -> dict[str, Path]:
        return {"movies": self.movies, "credits": self.credits, "ratings": self.ratings, "links": self.links}


def _find(data_dir: Path, explicit: Path | None, names: tuple[str, ...], what: str) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise DataError(explicit, f"{what} file not found")
        return explicit
    for name in names:
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(data_dir, f"no {what} file: expected one of {', '.join(names)} (or give its path explicitly)")


def find_data_files(settings: Settings) -> DataFiles:
    """The four input files: explicit paths from the settings, else found in `data_dir`."""
    data_dir = settings.data.data_dir
    if not data_dir.is_dir() and None in (
        settings.data.movies_csv,
        settings.data.credits_csv,
        settings.data.ratings_csv,
        settings.data.links_csv,
    ):
        raise DataError(data_dir, "data folder not found")
    return DataFiles(
        movies=_find(data_dir, settings.data.movies_csv, MOVIES_NAMES, "TMDB movies"),
        credits=_find(data_dir, settings.data.credits_csv, CREDITS_NAMES, "TMDB credits"),
        ratings=_find(data_dir, settings.data.ratings_csv, RATINGS_NAMES, "ratings"),
        links=_find(data_dir, settings.data.links_csv, LINKS_NAMES, "links"),
    )
