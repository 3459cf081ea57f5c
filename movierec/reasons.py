"""Reasons: one short sentence per recommended movie saying why it is there, in words a person reads.

A reason is built from the largest positive parts of the movie's score (movierec.signals) and from
what the request was understood to ask (movierec.understanding), and it only ever says what is true
of the movie: a genre, keyword, year, person, language or runtime is named only when the movie has
it, an example only when the request named it, "highly rated" and "popular" only above the
thresholds below. Pure and deterministic: the same inputs give the same sentence.

Style: one or two clauses, the first capitalised, joined by "; ", no full stop at the end. The kinds,
in the order they are tried:

    group       a group's list leads with the members' fit (movierec.group):
                "A strong match for everyone in the group", "Among the best matches of user 12", "Among the
                best matches of users 12 and 48", "Among the best matches of 3 of the group's 5 members", "In
                the top half for everyone in the group", "Picked for the group as a whole" (a fit is a
                predicted rank among the candidates, not a rating: the words say "match", never "rates")
    short list  a movie past the end of what meets every constraint says what it misses:
                "Not a thriller film, but close to the rest of what you asked", "Without Tom Hanks, but ...",
                "Not from the 1990s, but ...", "Longer than asked, but ..."
    asked       what was asked and the movie has: "A 1990s heist film, as asked", "A comedy film in French
                for kids, as asked", "A war film with Tom Hanks, as asked", "A film by Christopher Nolan, as asked"
then the largest positive score parts, largest first:
    examples    (collaborative, prompt) "Because you liked Heat and Ronin" (liked in a conversation),
                "Because you asked for something like Die Hard" (named as an example)
    rated       (collaborative, taste) "Because you rated Heat and Ronin highly" (the user's favourites
                nearest the movie), "Because of what you have rated", "Close to your taste"
    community   "Well liked by people with your taste", "Well liked by people with a taste for what you asked"
    quality     "Highly rated (7.9/10 on TMDB)"
    popularity  "A popular pick (12,345 votes on TMDB)"
    prompt      (prompt, genre_fit, match) "Close to what you described"
and when nothing above applies:
    fallback    "Among the best matches for your request"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pycountry

from movierec import signals as registry
from movierec.conversation import LIKED
from movierec.domain import Movie
from movierec.understanding import Understood, normalise

# A part of a score is a weight times standard deviations above the candidates' mean (movierec.combine):
# below a quarter of a standard deviation at weight 1 it hardly moved the movie, so it is no reason.
MIN_PART = 0.25
# "Highly rated": TMDB's top marks, and enough votes that a handful of fans cannot make them.
HIGHLY_RATED = 7.5
MIN_VOTES_FOR_RATING = 100
# "A popular pick": enough TMDB votes that the film is widely known, not just above the list's average.
POPULAR_VOTES = 2000
# A group member's fit is the share of the group's candidates they rank below the movie (movierec.group):
# at this share the movie is in that member's top fifth, which is what "a strong match" promises.
GROUP_HIGH_FIT = 0.8
# "In the top half for everyone": fit 0.5 is the middle of a member's own ranking.
GROUP_TOP_HALF = 0.5
# A favourite is a movie the user rated this high or higher (of 5 stars)...
FAVOURITE_RATING = 4.0
# ... and of a heavy rater's many favourites, the highest rated this many are compared (a bounded cost per request).
MAX_FAVOURITES = 50
# Cosine of two movies' embeddings above which they are neighbours: above what nearly every pair of unrelated
# catalogue movies reaches, below what a movie's nearest neighbours usually have.
MIN_FAVOURITE_SIMILARITY = 0.45
# Movies or people named in one clause, at most.
MAX_NAMED = 2

# Genres as an adjective before "film".
_GENRE_WORDS = {
    "Animation": "animated",
    "Science Fiction": "science fiction",
    "TV Movie": "TV",
    "History": "historical",
}
FALLBACK = "Among the best matches for your request"


def nearest_favourites(
    vectors: np.ndarray, rows: Sequence[int], rated_rows: np.ndarray, rated_values: np.ndarray
) -> list[tuple[int, ...]]:
    """For each movie row of `rows` (L,), up to MAX_NAMED rows of the user's favourites nearest it, nearest
    first, each at least MIN_FAVOURITE_SIMILARITY close and never the movie itself.

    vectors float32 (n_movies, d) unit rows; rated_rows int (k,) and rated_values float (k,) the user's ratings.
    One (L, F) product over F <= MAX_FAVOURITES favourites: the highest rated, ties by row."""
    liked = rated_values >= FAVOURITE_RATING
    if not len(rows) or not liked.any():
        return [()] * len(rows)
    favourites, values = np.asarray(rated_rows, np.int64)[liked], np.asarray(rated_values)[liked]
    if len(favourites) > MAX_FAVOURITES:
        favourites = favourites[np.lexsort((favourites, -values))[:MAX_FAVOURITES]]
    wanted = np.asarray(rows, np.int64)
    similarity = vectors[wanted] @ vectors[favourites].T  # (L, F)
    similarity[wanted[:, None] == favourites[None, :]] = -np.inf
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :MAX_NAMED]  # (L, <= MAX_NAMED)
    close = np.take_along_axis(similarity, nearest, axis=1) >= MIN_FAVOURITE_SIMILARITY
    picked = favourites[nearest].tolist()
    return [tuple(r for r, ok in zip(row, keep) if ok) for row, keep in zip(picked, close.tolist())]


@lru_cache(maxsize=256)
def language_name(code: str) -> str:
    """ "fr" -> "French" (ISO 639); the code itself when pycountry does not know it."""
    language = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    return language.name.split(" (")[0] if language is not None else code


def _names(items: Sequence[str]) -> str:
    """ "Heat" / "Heat and Ronin" / "Heat, Ronin and Se7en"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _article(phrase: str) -> str:
    """ "a" or "an" before `phrase` (by its sound: "an action film", "an 18th", "a 1990s heist film")."""
    first = phrase[:2].lower()
    return "an" if first[:1] in "aeiou" or first[:1] == "8" or first in ("11", "18") else "a"


def _genre_word(genre: str) -> str:
    return _GENRE_WORDS.get(genre, genre.lower())


def _lower_first(clause: str) -> str:
    # Every clause starts with a template's word, never a name, so lowering its first letter is safe.
    return clause[:1].lower() + clause[1:]


class Reasoner:
    """The reasons of one request's movies: what does not depend on the movie is worked out once here.

    understood: the request as understood; examples: its example movies (Understood.examples, in that
    order); for_user: the request is a known user's or a group's (their taste, not only the words)."""

    def __init__(self, understood: Understood, examples: Sequence[Movie] = (), for_user: bool = False):
        u = understood
        self.understood = u
        self.for_user = for_user
        self.has_mood = bool(u.mood)
        liked = {row for row, reading, _ in u.named if reading == LIKED}
        named = list(examples[:MAX_NAMED])
        titles = _names([m.title for m in named]) if named else ""
        self.example_clause = (
            ""
            if not named
            else (
                f"Because you liked {titles}"
                if all(row in liked for row in u.examples[:MAX_NAMED])
                else f"Because you asked for something like {titles}"
            )
        )
        # "Like X" with no genre named asks for X's genres (with_example_genres): those were not asked in words.
        example_genres = tuple(dict.fromkeys(g for m in examples for g in m.genres if g not in u.excluded_genres))
        self.genres = () if examples and u.genres == example_genres else u.genres
        # A genre read from a word the catalogue also has as a keyword ("heist" -> Crime) is named by that word.
        self.genre_keywords = tuple((what, normalise(source)) for what, source in u.readings if what in self.genres)
        self.people = tuple((p, normalise(p)) for p in u.people)
        decade = (
            u.year_min is not None and u.year_max is not None and u.year_min % 10 == 0 and u.year_max == u.year_min + 9
        )
        self.decade = f"{u.year_min}s" if decade else ""
        self.has_years = u.year_min is not None or u.year_max is not None
        self.has_runtime = u.runtime_min is not None or u.runtime_max is not None
        self.asks = any(
            (u.keywords, self.genres, self.has_years, self.people, u.languages, u.for_kids, self.has_runtime)
        )
        self.community_clause = (
            "Well liked by people with your taste"
            if for_user
            else "Well liked by people with a taste for what you asked"
        )

    def __call__(
        self,
        movie: Movie,
        signals: Mapping[str, float],
        member_fit: Mapping[int, float] | None = None,
        unmet: Sequence[str] = (),
        favourites: Sequence[Movie] = (),
    ) -> str:
        """The movie's reason. signals: name -> its part of the score; member_fit: a group's user id -> fit
        (empty for one user or none); unmet: what of the request it misses (a short list's tail);
        favourites: the user's favourites nearest the movie (nearest_favourites), nearest first."""
        clauses: list[str] = []
        if member_fit:
            clauses.append(self.group_clause(member_fit))
        missed = self.unmet_clause(movie, unmet) if unmet else ""
        if missed:
            clauses.append(missed)
        else:
            asked = self.asked_clause(movie)
            if asked:
                clauses.append(asked)
            # The parts large enough to be reasons, largest first (ties by name): usually one to three.
            for _, name in sorted((-part, name) for name, part in signals.items() if part >= MIN_PART):
                if len(clauses) >= 2:
                    break
                clause = self.signal_clause(name, movie, favourites, bool(asked))
                if clause and clause not in clauses:
                    clauses.append(clause)
        if not clauses:
            return FALLBACK
        return "; ".join([clauses[0], *map(_lower_first, clauses[1:2])])

    # -- the kinds ------------------------------------------------------------------------------
    @staticmethod
    def group_clause(member_fit: Mapping[int, float]) -> str:
        fits = list(member_fit.values())
        if min(fits) >= GROUP_HIGH_FIT:
            return "A strong match for everyone in the group"
        fans = [u for u, f in member_fit.items() if f >= GROUP_HIGH_FIT]  # in the group's order
        if len(fans) == 1:
            return f"Among the best matches of user {fans[0]}"
        if 1 < len(fans) <= MAX_NAMED:
            return f"Among the best matches of users {_names([str(u) for u in fans])}"
        if fans:
            return f"Among the best matches of {len(fans)} of the group's {len(fits)} members"
        if min(fits) >= GROUP_TOP_HALF:
            return "In the top half for everyone in the group"
        return "Picked for the group as a whole"

    def unmet_clause(self, movie: Movie, unmet: Sequence[str]) -> str:
        """What the movie misses, each checked against the movie ("" when none of it holds)."""
        u, misses = self.understood, []
        if "genre" in unmet and u.genres and not set(u.genres) & set(movie.genres):
            misses.append(
                f"not {_article(_genre_word(u.genres[0]))} "
                f"{' or '.join(_genre_word(g) for g in u.genres[:MAX_NAMED])} film"
            )
        if "years" in unmet and self.has_years and not self._in_years(movie):
            misses.append(f"not from the {self.decade}" if self.decade else "outside the years asked")
        if "runtime" in unmet and self.has_runtime and not self._in_runtime(movie):
            misses.append(
                "longer than asked"
                if u.runtime_max is not None and movie.runtime > u.runtime_max
                else "shorter than asked"
                if movie.runtime
                else "of unknown length"
            )
        if "people" in unmet:
            missing = [name for name, key in self.people if not self._has_person(movie, name, key)[0]]
            if missing:
                misses.append(f"without {_names(missing[:MAX_NAMED])}")
        if not misses:
            return ""
        joined = " and ".join(misses)
        return f"{joined[:1].upper()}{joined[1:]}, but close to the rest of what you asked"

    def asked_clause(self, movie: Movie) -> str:
        """The constraints asked that the movie has, as one noun phrase ("" when none was asked)."""
        u = self.understood
        if not self.asks:
            return ""
        kind = [k for k in u.keywords if k in movie.keywords]
        kind += [
            word
            for genre, word in self.genre_keywords
            if genre in movie.genres and word in movie.keywords and word not in kind
        ]
        if not kind:
            kind = [_genre_word(g) for g in self.genres if g in movie.genres]
        after = []
        if self.has_years and movie.year and self._in_years(movie) and not self.decade:
            after.append(f"from {movie.year}")
        for name, key in self.people:
            has, directed = self._has_person(movie, name, key)
            if has and len(after) < MAX_NAMED:
                after.append(f"{'by' if directed else 'with'} {name}")
        if movie.language and movie.language in u.languages:
            after.append(f"in {language_name(movie.language)}")
        if u.for_kids and "Family" in movie.genres:
            after.append("for kids")
        if self.has_runtime and movie.runtime and self._in_runtime(movie):
            after.append(f"of {movie.runtime} minutes")
        decade = self.decade if self.decade and self._in_years(movie) else ""
        if not kind and not after and not decade:
            return ""
        head = " ".join(filter(None, (decade, " and ".join(kind[:MAX_NAMED]), "film")))
        return f"{_article(head).capitalize()} {' '.join((head, *after[:MAX_NAMED]))}, as asked"

    def signal_clause(self, name: str, movie: Movie, favourites: Sequence[Movie], asked: bool) -> str:
        """The clause for one signal's part ("" when nothing true can be said of it)."""
        if name == "collaborative":
            return (
                self.example_clause
                or self.rated_clause(favourites)
                or ("Because of what you have rated" if self.for_user else "")
            )
        if name == "taste":
            return self.rated_clause(favourites) or "Close to your taste"
        if name == "community":
            return self.community_clause
        if name == "quality":
            return (
                f"Highly rated ({movie.vote_average:.1f}/10 on TMDB)"
                if (movie.vote_average >= HIGHLY_RATED and movie.vote_count >= MIN_VOTES_FOR_RATING)
                else ""
            )
        if name == "popularity":
            return f"A popular pick ({movie.vote_count:,} votes on TMDB)" if movie.vote_count >= POPULAR_VOTES else ""
        if _about_the_mood(name):  # closeness to the words asked (or the examples): one clause for all
            if name == "match" and asked:  # the tags it matched are what the asked clause names
                return ""
            return "Close to what you described" if self.has_mood else self.example_clause
        return ""  # "baseline" (the learned ranker's input) and any signal without words

    @staticmethod
    def rated_clause(favourites: Sequence[Movie]) -> str:
        return f"Because you rated {_names([m.title for m in favourites[:MAX_NAMED]])} highly" if favourites else ""

    # -- checks against the movie ------------------------------------------------------------------
    def _in_years(self, movie: Movie) -> bool:
        u = self.understood
        return (
            movie.year > 0
            and (u.year_min is None or movie.year >= u.year_min)
            and (u.year_max is None or movie.year <= u.year_max)
        )

    def _in_runtime(self, movie: Movie) -> bool:
        u = self.understood
        return (
            movie.runtime > 0
            and (u.runtime_min is None or movie.runtime >= u.runtime_min)
            and (u.runtime_max is None or movie.runtime <= u.runtime_max)
        )

    @staticmethod
    def _has_person(movie: Movie, name: str, key: str) -> tuple[bool, bool]:
        """(the movie has the person, as its director); names compared as the constraint filter does."""
        if name in movie.directors:
            return True, True
        if name in movie.cast:
            return True, False
        if any(normalise(d) == key for d in movie.directors):  # spelt otherwise ("Luc Besson" / "luc besson")
            return True, True
        return any(normalise(c) == key for c in movie.cast), False


def reason(
    movie: Movie,
    signals: Mapping[str, float],
    understood: Understood,
    examples: Sequence[Movie] = (),
    member_fit: Mapping[int, float] | None = None,
    unmet: Sequence[str] = (),
    favourites: Sequence[Movie] = (),
    for_user: bool = False,
) -> str:
    """One movie's reason (Reasoner's, for a single movie; a request's list builds one Reasoner)."""
    return Reasoner(understood, examples, for_user)(movie, signals, member_fit, unmet, favourites)


def _about_the_mood(name: str) -> bool:
    """Whether the signal called `name` measures closeness to the mood or the examples (it needs a prompt)."""
    try:
        return registry.by_name(name).needs == "prompt"
    except KeyError:  # "baseline", the learned ranker's part no signal explains
        return False
