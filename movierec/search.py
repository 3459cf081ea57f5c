"""Finding a catalogue movie by what a person remembers of it: its title (typos forgiven), its year, the
people in it, what it is about ("toy story", "inceptoin", "inception 2010", "nolan dreams").

A movie's score for a query, 0..1, is the larger of
- the title's fuzzy match to the whole query (the year, when the query gives one, taken out of the
  query and required within a year), and
- the query's words found among the movie's words, each word weighted by how rare it is in the
  catalogue (IDF) and by where it is found (title, people, year, keywords), a word matching another
  one letter or two off ("dreams", "dream") at its similarity,
so an exact title comes first, and a description finds the movies that carry most of its rare words.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from movierec.domain import Movie
from movierec.understanding import FILLER, normalise

MAX_QUERY_CHARS = 200
# Where a query word is found: a word of the title counts most, then a person's name, then the year,
# then a keyword.
FIELD_WEIGHTS = {"title": 1.0, "people": 0.9, "year": 0.8, "keyword": 0.8}
TOP_CAST = 5
WORD_SIMILARITY = 80  # rapidfuzz ratio (0..100) from which another word counts as the same word
# A movie that carries every word of a description scores this much: a title that matches scores more.
DESCRIPTION_SHARE = 0.95
_FILLER = FILLER | {"with", "who", "where", "when", "which", "about", "guy", "film", "thing"}
_YEAR = re.compile(r"^(18[7-9]\d|19\d\d|20\d\d|2100)$")


@dataclass(frozen=True)
class Match:
    row: int
    score: float  # 0..1


class MovieSearch:
    """The catalogue's titles, people, years and keywords, indexed for `search`."""

    def __init__(self, movies: Sequence[Movie]):
        self.movies = list(movies)
        self.titles = [normalise(m.title) for m in self.movies]
        self.years = np.array([m.year for m in self.movies], np.int64)  # (n,)
        self.by_votes = -np.array([m.vote_count for m in self.movies], np.int64)  # (n,): ties go to more votes
        # word -> {row: field weight}: the best field each movie has the word in
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        for row, m in enumerate(self.movies):
            fields = (
                ("title", self.titles[row].split()),
                ("people", [w for p in (*m.directors, *m.cast[:TOP_CAST]) for w in normalise(p).split()]),
                ("year", [str(m.year)] if m.year else []),
                ("keyword", [w for k in m.keywords for w in normalise(k).split()]),
            )
            for name, words in fields:
                for word in words:
                    if postings[word].get(row, 0.0) < FIELD_WEIGHTS[name]:
                        postings[word][row] = FIELD_WEIGHTS[name]
        self.vocabulary = sorted(postings)
        self.postings = {
            w: (np.array(list(rows), np.int64), np.array(list(rows.values()), np.float32))
            for w, rows in postings.items()
        }
        n = len(self.movies)
        self.idf = {w: math.log(1 + n / len(rows)) for w, rows in postings.items()}
        self.max_idf = math.log(1 + n)

    def search(self, query: str, limit: int = 10) -> list[Match]:
        """The `limit` best matches, best first (ties: more votes first); none for a query of no words."""
        words = normalise(query).split()
        if not words or not self.movies:
            return []
        years = [int(w) for w in words if _YEAR.match(w)]
        named = [w for w in words if not _YEAR.match(w)]
        # Words that say nothing of a movie ("that film with the") count in a title, not in a description.
        content = [w for w in words if w not in _FILLER] or words
        share, in_title = self._words(content)
        scores = share
        if named:
            title_query = " ".join(named)
            lenient = process.cdist([title_query], self.titles, scorer=fuzz.WRatio, workers=1)[0] / 100.0
            whole = process.cdist([title_query], self.titles, scorer=fuzz.ratio, workers=1)[0] / 100.0
            # WRatio finds a short query inside a long title ("story" in every "... Story"), the whole-title
            # ratio keeps the exact title first; a title scores by how many of the query's words it has.
            title = (0.5 * lenient + 0.5 * whole) * np.sqrt(in_title)
            if years:
                near = (np.abs(self.years[:, None] - np.array(years)[None, :]) <= 1).any(axis=1)
                title = np.where(near, title, 0.5 * title)
            scores = np.maximum(scores, title.astype(np.float32))
        order = np.lexsort((self.by_votes, -scores))
        return [Match(int(r), float(scores[r])) for r in order[:limit] if scores[r] > 0]

    def _words(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """float32 (n_movies,) twice: the IDF-weighted share of the query's words each movie carries (at the
        weight of the field they are in, with a word's best match by similarity), discounted so that a
        title match beats it; and the share of the query's words (or words like them) in its title."""
        found = np.zeros(len(self.movies), np.float32)
        in_title = np.zeros(len(self.movies), np.float32)
        total = 0.0
        for word in words:
            weight = self.idf.get(word, self.max_idf)
            total += weight
            best = np.zeros(len(self.movies), np.float32)
            title = np.zeros(len(self.movies), np.float32)
            similar = [(word, 100.0)] if word in self.postings else []
            # A short word one letter off is another word ("war", "car"), and a number another number ("2010", "200").
            if len(word) >= 4 and not word.isdigit():
                similar += [
                    (w, s)
                    for w, s, _ in process.extract(
                        word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=WORD_SIMILARITY, limit=20
                    )
                    if w != word
                ]
            for other, similarity in similar:
                rows, fields = self.postings[other]
                best[rows] = np.maximum(best[rows], fields * (similarity / 100.0))
                title[rows] = np.maximum(title[rows], (fields == FIELD_WEIGHTS["title"]).astype(np.float32))
            found += weight * best
            if not _YEAR.match(word):  # a year is never in a title; it is checked apart
                in_title += title
        named = sum(1 for w in words if not _YEAR.match(w))
        if not words:
            return found, in_title
        return DESCRIPTION_SHARE * found / total, in_title / max(1, named)
