"""Lexical match of a prompt against movie tags (TMDB genres and keywords).

The dense encoder is good at "feel" and weak at facets: "a comedy and romance movie" should
favour movies that are both. A prompt matches a tag when the tag's words appear in it, in order
(after light normalisation and a few everyday synonyms: "romcom", "sci-fi", "scary", ...).
A movie's match score is the share of the prompt's tags it carries, each tag weighted by its IDF
so that rare, specific tags ("time travel") count more than broad ones ("drama"): 1.0 when the
movie carries every tag the prompt names, 0 when it carries none (or the prompt names none).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ahocorasick
import numpy as np
from scipy import sparse

# Words that never make a tag match on their own.
STOPWORDS = frozenset(
    "a an the and or of movie movies film films flick flicks about with in on for to "
    "something some me us we i my our night tonight watch watching want like that this "
    "is are be it its come comes go get make good great feel best new old life time "
    "story man woman people world day way thing".split()
)

# Everyday words for TMDB genres (applied to the prompt only).
SYNONYMS: dict[str, str] = {
    "romcom": "romance comedy",
    "rom-com": "romance comedy",
    "romantic": "romance",
    "love story": "romance",
    "sci-fi": "science fiction",
    "scifi": "science fiction",
    "sf": "science fiction",
    "funny": "comedy",
    "hilarious": "comedy",
    "comedic": "comedy",
    "laugh": "comedy",
    "scary": "horror",
    "spooky": "horror",
    "terrifying": "horror",
    "thrilling": "thriller",
    "suspenseful": "thriller",
    "suspense": "thriller",
    "animated": "animation",
    "cartoon": "animation",
    "kids": "family",
    "children": "family",
    "musical": "music",
    "historical": "history",
    "mysterious": "mystery",
    "whodunit": "mystery",
    "cowboy": "western",
    "documentaries": "documentary",
    "fantastical": "fantasy",
    "detective": "detective mystery",
    "heist": "heist crime",
    "criminal": "crime",
    "gangster": "gangster crime",
    "adventurous": "adventure",
    "epic": "epic adventure",
    "wartime": "war",
}


def words(text: str) -> list[str]:
    """Lower-cased words, plural 's' dropped from longer words so 'zombies' meets 'zombie'."""
    out = []
    for w in re.findall(r"[a-z0-9][a-z0-9'\-]*", text.lower()):
        w = w.strip("'-")
        if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        if w:
            out.append(w)
    return out


# One pass finds every synonym phrase (longest first, whole words only).
_SYNONYM_PATTERN = re.compile(
    r"(?<![a-z0-9])(" + "|".join(re.escape(p) for p in sorted(SYNONYMS, key=len, reverse=True)) + r")(?![a-z0-9])"
)


def expand(prompt: str) -> list[str]:
    """The prompt's words with synonyms appended (so both the word and its genre can match)."""
    ws = words(prompt)
    found = set(_SYNONYM_PATTERN.findall(" ".join(ws)))
    extra = [meaning for phrase, meaning in SYNONYMS.items() if phrase in found]
    return ws + [w for m in extra for w in ["|", *words(m)]]  # "|" keeps phrases from joining across


class TagMatcher:
    """Scores movies by the tags a prompt names. Built once per index from each movie's tags."""

    def __init__(self, movie_tags: Sequence[Sequence[str]]):
        vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for i, tags in enumerate(movie_tags):
            for tag in tags:
                key = " ".join(words(tag))
                if not key or all(w in STOPWORDS for w in key.split()):
                    continue
                rows.append(i)
                cols.append(vocabulary.setdefault(key, len(vocabulary)))
        n = len(movie_tags)
        pairs = sorted(set(zip(rows, cols)))
        self.movie_tags = sparse.csr_matrix(
            (np.ones(len(pairs), np.float32), ([p[0] for p in pairs], [p[1] for p in pairs])),
            shape=(n, len(vocabulary)),
        )
        df = np.asarray(self.movie_tags.sum(axis=0)).ravel()
        self.idf = np.log((n + 1) / (df + 1)).astype(np.float32)
        self.tag_movies = self.movie_tags.T.tocsr()  # (n_tags, n_movies), for the per-request product
        self.vocabulary = vocabulary
        # Every tag as " its words " in one automaton: one C pass over " word word ... " finds every
        # tag the prompt names, overlapping ones included (vocabulary keys are never all stopwords).
        self._automaton = ahocorasick.Automaton()
        for phrase, column in vocabulary.items():
            self._automaton.add_word(f" {phrase} ", (phrase, float(self.idf[column])))
        if vocabulary:
            self._automaton.make_automaton()

    def tags_in(self, prompt: str) -> dict[str, float]:
        """The tags a prompt names, with their IDF weights."""
        if not self.vocabulary:
            return {}
        return dict(value for _, value in self._automaton.iter(" " + " ".join(expand(prompt)) + " "))

    def scores(self, prompts: Sequence[str]) -> np.ndarray:
        """Match scores float32 (len(prompts), n_movies) in [0, 1]: IDF-weighted share of the prompt's tags."""
        if not prompts:
            return np.zeros((0, self.movie_tags.shape[0]), np.float32)
        n_movies = self.movie_tags.shape[0]
        out = np.zeros((len(prompts), n_movies), dtype=np.float32)
        ptr, movies = self.tag_movies.indptr, self.tag_movies.indices
        for i, prompt in enumerate(prompts):
            found = self.tags_in(prompt)
            total = sum(found.values())
            for key, weight in found.items():  # each tag adds its weight to the movies carrying it
                tag = self.vocabulary[key]
                out[i, movies[ptr[tag] : ptr[tag + 1]]] += weight / max(total, 1e-9)
        return out

    def similar_to(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """How much of the examples' tags each movie carries, float32 (n_movies,) in [0, 1]: the IDF-weighted
        share of the tags of the movies at `rows`, each tag counted by the share of examples carrying it."""
        n_movies = self.movie_tags.shape[0]
        if not len(rows):
            return np.zeros(n_movies, np.float32)
        weights = np.asarray(self.movie_tags[list(rows)].mean(axis=0)).ravel() * self.idf  # (n_tags,)
        total = float(weights.sum())
        if total <= 0:
            return np.zeros(n_movies, np.float32)
        return np.asarray(self.movie_tags @ (weights / total), dtype=np.float32).ravel()
