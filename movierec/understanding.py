"""Understand a request: free text -> a structured query (the first stage of every request).

"a comedy, nothing romantic, from the 90s, like Super Troopers" becomes wanted genre Comedy,
excluded genre Romance, years 1990-1999, example movie Super Troopers, and a mood (the words
left for the encoder). Pure and fast: gazetteers built once per index from the catalogue
(Aho-Corasick automata over titles and people's names, `pyahocorasick`), fuzzy titles after a
cue such as "like" (`rapidfuzz`), language names from ISO 639 (`pycountry`), and a small table
of everyday genre words. Nothing here knows about vectors or scores.

Negation: a cue ("no", "not", "nothing", "without", "anything but", "except", "avoid", "don't",
"never", "not too") opens a scope that runs to the next clause boundary (punctuation, "but",
"though", ...); genres, keywords, people, languages and titles found inside it are exclusions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import ahocorasick
import pycountry
from rapidfuzz import fuzz, process

from movierec.domain import Movie

# Everyday words for TMDB's genres (whole words, lower case; longer phrases win).
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "action": ("Action",), "action-packed": ("Action",), "explosions": ("Action",), "martial arts": ("Action",),
    "adventure": ("Adventure",), "adventurous": ("Adventure",),
    "animation": ("Animation",), "animated": ("Animation",), "cartoon": ("Animation",), "cartoons": ("Animation",),
    "pixar": ("Animation",), "anime": ("Animation",),
    "comedy": ("Comedy",), "comedies": ("Comedy",), "funny": ("Comedy",), "hilarious": ("Comedy",),
    "comedic": ("Comedy",), "laugh": ("Comedy",), "laughs": ("Comedy",), "silly": ("Comedy",),
    "romcom": ("Romance", "Comedy"), "rom-com": ("Romance", "Comedy"), "romantic comedy": ("Romance", "Comedy"),
    "crime": ("Crime",), "gangster": ("Crime",), "gangsters": ("Crime",), "mob": ("Crime",), "mafia": ("Crime",),
    "heist": ("Crime",), "criminal": ("Crime",),
    "documentary": ("Documentary",), "documentaries": ("Documentary",),
    "drama": ("Drama",), "dramas": ("Drama",), "dramatic": ("Drama",),
    "family": ("Family",), "kids": ("Family",), "children": ("Family",), "child": ("Family",),
    "fantasy": ("Fantasy",), "magic": ("Fantasy",), "magical": ("Fantasy",), "fairy tale": ("Fantasy",),
    "history": ("History",), "historical": ("History",), "period piece": ("History",),
    "horror": ("Horror",), "scary": ("Horror",), "spooky": ("Horror",), "creepy": ("Horror",),
    "frightening": ("Horror",), "terrifying": ("Horror",), "gory": ("Horror",), "gore": ("Horror",),
    "slasher": ("Horror",), "scares": ("Horror",),
    "music": ("Music",), "musical": ("Music",), "musicals": ("Music",),
    "mystery": ("Mystery",), "mysteries": ("Mystery",), "mysterious": ("Mystery",), "whodunit": ("Mystery",),
    "detective": ("Mystery",),
    "romance": ("Romance",), "romantic": ("Romance",), "romances": ("Romance",), "love story": ("Romance",),
    "love stories": ("Romance",), "romantically": ("Romance",),
    "science fiction": ("Science Fiction",), "scifi": ("Science Fiction",),
    "sci fi": ("Science Fiction",),
    "thriller": ("Thriller",), "thrillers": ("Thriller",), "thrilling": ("Thriller",), "suspense": ("Thriller",),
    "suspenseful": ("Thriller",), "tense": ("Thriller",),
    "war": ("War",), "wartime": ("War",), "world war": ("War",),
    "western": ("Western",), "westerns": ("Western",), "cowboy": ("Western",), "cowboys": ("Western",),
    "tv movie": ("TV Movie",),
}
# Words that ask for a film for children: Family movies, and nothing from Horror.
KIDS_PHRASES = ("for the kids", "for kids", "for my kids", "for children", "for the children", "for a child",
                "kid friendly", "family friendly", "for the family",
                "for my son", "for my daughter", "for little ones")

# Written as `normalise` leaves them (no apostrophes); longer cues first.
NEGATION_CUES = ("anything but", "anything except", "other than", "rather than", "instead of", "not too", "not so",
                 "nothing too", "no more", "do not want", "dont want", "do not like", "dont like", "didnt like",
                 "did not like", "didnt enjoy", "not a fan of", "not into", "no", "not", "nothing", "without",
                 "except", "avoid", "never", "hate", "hated", "hates", "dislike", "disliked", "skip", "nor",
                 "neither", "none", "isnt", "arent", "non")
SCOPE_ENDS = frozenset("but though although however yet instead rather just so because while whereas".split())
EXAMPLE_CUES = ("something like", "similar to", "such as", "in the vein of", "reminds me of", "as good as",
                "along the lines of", "same as", "like", "liked", "loved", "love", "enjoyed", "enjoy", "fan of",
                "seen", "watched", "favorite", "favourite", "favorites", "favourites", "including")
# Greetings and pleasantries that open a conversation ("Hi! How are you? I'm good, thanks."): they
# describe no movie, so they leave the mood (written as `normalise` leaves them).
SMALL_TALK = ("hello there", "hi there", "hey there", "hello", "hi", "hey", "hiya", "howdy", "greetings",
              "good morning", "good afternoon", "good evening", "how are you doing today", "how are you doing",
              "how are you today", "how are you tonight", "how are you", "hows it going", "how is it going",
              "how about you", "and you", "and yourself", "what about you", "thanks for asking",
              "thank you for asking", "thank you", "thanks", "im doing well", "im doing good", "im doing great",
              "im good", "im fine", "im great", "im well", "im ok", "im okay", "i am doing well", "i am good",
              "i am fine", "i am great", "i am well", "i am ok", "doing well", "doing good", "nice to meet you",
              "nice to chat", "pretty good", "not bad")
# Words that are not a mood on their own: a prompt made only of these has no mood to embed.
FILLER = frozenset("a an the and or of some any something anything movie movies film films flick flicks cinema "
                   "to watch watching want wanna would like love please i me my we us our you tonight night "
                   "evening today good great nice one ones kind sort type with for in on from about that "
                   "this these those be is are was it its show shows recommend recommendation recommendations "
                   "suggest suggestion suggestions looking look find give get can could should maybe perhaps "
                   "also too really very just something's what's lets let's let have has had more less "
                   "same similar other starring directed by made era years year decade old new "
                   "minutes minute mins hours hour long short time feel mood".split())


# Catalogue keywords that are everyday words and say nothing on their own in a request.
KEYWORD_STOPWORDS = frozenset("hate hated hates dislike avoid never none skip will make made cry go going gone "
                              "see seen tell need needs help way day days man woman "
                              "men women boy girl friend friends life live death dead love lover money home family "
                              "house night time world city town school water fire hope dream dreams game games "
                              "kid kids child children small big little young first last end".split())


@dataclass(frozen=True)
class Understood:
    """What a request asks for. Movie references are catalogue rows; years and runtimes inclusive.

    mood: the words left for the encoder ("" when nothing but constraints was said).
    """

    mood: str = ""
    genres: tuple[str, ...] = ()
    excluded_genres: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    excluded_keywords: tuple[str, ...] = ()
    examples: tuple[int, ...] = ()
    excluded_movies: tuple[int, ...] = ()
    people: tuple[str, ...] = ()
    excluded_people: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    languages: tuple[str, ...] = ()
    excluded_languages: tuple[str, ...] = ()
    for_kids: bool = False

    @property
    def has_constraints(self) -> bool:
        return any((self.excluded_genres, self.excluded_keywords, self.excluded_movies, self.people,
                    self.excluded_people, self.year_min is not None, self.year_max is not None,
                    self.runtime_min is not None, self.runtime_max is not None, self.languages,
                    self.excluded_languages, self.genres, self.for_kids))


# The full stop of an abbreviation ("Mrs. Doubtfire", "Tucker & Dale vs. Evil") ends no clause.
_ABBREVIATION = re.compile(r"\b(vs|mr|mrs|ms|dr|st|jr|sr|vol|pt|no)\.(?=\s)", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;!?]|(?<![^\w][A-Za-z])(?<!^[A-Za-z])\.(?=\s|$)")


def _with_clause_marks(prompt: str) -> str:
    """The prompt as written, with " | " where a clause ends (, ; ! ? and a full stop before a space)."""
    return _CLAUSE_END.sub(" | ", _ABBREVIATION.sub(r"\1", prompt))


def prompt_words(prompt: str) -> list[str]:
    """The prompt's normalised words, with "|" where a clause ends (, ; ! ? and a full stop before a space)."""
    return normalise(_with_clause_marks(prompt), keep="|").split()


def normalise(text: str, keep: str = "") -> str:
    """Lower case, accents off, '&' as 'and', apostrophes dropped, other punctuation (hyphens too) as spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("&", " and ")
    return " ".join(re.sub(rf"[^a-z0-9'{re.escape(keep)}]+", " ", text.replace("'", "")).split())


@dataclass
class _Span:
    """A recognised piece of the text: [start, end) word positions in the normalised prompt."""

    start: int
    end: int
    kind: str
    value: object
    negated: bool = False
    scope_start: int = -1  # where the negation cue starts, when negated


class _Text:
    """A prompt's words as the gazetteers search them: " w1 w2 ... " and each word's first character."""

    def __init__(self, words: list[str]):
        self.text = " " + " ".join(words) + " "
        self.starts: dict[int, int] = {}
        position = 1
        for i, w in enumerate(words):
            self.starts[position] = i
            position += len(w) + 1


@dataclass
class _Gazetteer:
    """Whole-word phrase lookup over normalised text (Aho-Corasick)."""

    automaton: ahocorasick.Automaton = field(default_factory=ahocorasick.Automaton)
    empty: bool = True

    def add(self, phrase: str, value: object) -> None:
        key = f" {phrase} "
        if key.strip():
            existing = self.automaton.get(key, None)
            self.automaton.add_word(key, (phrase, (existing[1] if existing else ()) + (value,)))
            self.empty = False

    def finish(self) -> _Gazetteer:
        if not self.empty:
            self.automaton.make_automaton()
        return self

    def find(self, text: _Text) -> list[tuple[int, int, tuple[object, ...]]]:
        """(start word, end word, values) of every phrase occurring in `text`, longest first where they overlap."""
        if self.empty:
            return []
        hits = []
        for end_char, (phrase, values) in self.automaton.iter(text.text):
            first = end_char - len(phrase)  # the phrase's first character (keys are " phrase ")
            start = text.starts.get(first)
            if start is not None:
                hits.append((start, start + phrase.count(" ") + 1, values))
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken: set[int] = set()
        out = []
        for start, end, values in hits:
            if not taken & set(range(start, end)):
                taken |= set(range(start, end))
                out.append((start, end, values))
        return sorted(out)


def _language_names(codes: set[str]) -> dict[str, set[str]]:
    """Everyday names of the catalogue's languages -> ISO 639-1 codes ("french" -> {"fr"})."""
    names: dict[str, set[str]] = {}
    for code in codes:
        language = pycountry.languages.get(alpha_2=code)
        if language is None:
            continue
        full = re.sub(r"\s*\(.*\)", "", language.name).lower()
        for name in {full, *[w for w in full.split() if w not in ("modern", "standard")]}:
            if len(name) > 3:
                names.setdefault(normalise(name), set()).add(code)
    if "cn" in codes:  # TMDB's code for Cantonese (not ISO 639-1)
        names.setdefault("cantonese", set()).add("cn")
        names.setdefault("chinese", set()).add("cn")
    extra = {"bollywood": {"hi"}, "indian": {"hi", "ta", "te"}, "mandarin": {"zh"}, "hong kong": {"cn", "zh"},
             "latin american": {"es", "pt"}, "brazilian": {"pt"}, "mexican": {"es"}, "iranian": {"fa"},
             "scandinavian": {"sv", "da", "no", "nb"}}
    for name, wanted in extra.items():
        if wanted & codes:
            names.setdefault(name, set()).update(wanted & codes)
    return names


class Understander:
    """Parses prompts against one catalogue; built once per index (Recommender)."""

    def __init__(self, movies: Sequence[Movie]):
        self.movies = movies
        self.genres = sorted({g for m in movies for g in m.genres})
        known = {g.lower(): g for g in self.genres}
        self.genre_words = _Gazetteer()
        for word, genres in GENRE_WORDS.items():
            kept = tuple(g for g in genres if g in self.genres)
            if kept:
                self.genre_words.add(normalise(word), kept)
        for lower, genre in known.items():
            if genre != "Foreign":  # "foreign" asks for a language other than English (see understand)
                self.genre_words.add(normalise(lower), (genre,))
        self.genre_words.finish()
        self.keywords = _Gazetteer()
        genre_phrases = {normalise(w) for w in GENRE_WORDS} | {normalise(g) for g in self.genres}
        for keyword in sorted({k for m in movies for k in m.keywords}):
            phrase = normalise(keyword)
            if phrase and phrase not in genre_phrases and not set(phrase.split()) <= FILLER | KEYWORD_STOPWORDS:
                self.keywords.add(phrase, keyword)
                if not phrase.endswith("s"):  # "no zombies" names the keyword "zombie"
                    self.keywords.add(phrase + "s", keyword)
        self.keywords.finish()
        self.languages_present = sorted({m.language for m in movies if m.language})
        self.language_names = _language_names(set(self.languages_present))
        self.language_words = _Gazetteer()
        for name, codes in self.language_names.items():
            self.language_words.add(name, tuple(sorted(codes)))
        self.language_words.finish()
        # People: full names of directors and cast; directors' surnames when unique among people.
        self.people = _Gazetteer()
        full_names: dict[str, str] = {}
        for m in movies:
            for name in (*m.directors, *m.cast):
                key = normalise(name)
                if len(key.split()) >= 2:
                    full_names.setdefault(key, name)
        for key, name in full_names.items():
            self.people.add(key, name)
        surnames: dict[str, set[str]] = {}
        for key, name in full_names.items():
            surnames.setdefault(key.split()[-1], set()).add(name)
        directors = {normalise(d) for m in movies for d in m.directors}
        self.director_surnames = {s: next(iter(n)) for s, n in surnames.items()
                                  if len(n) == 1 and normalise(next(iter(n))) in directors and len(s) > 3}
        self.people.finish()
        # Titles: exact (normalised) lookups, and the list for fuzzy matching after a cue.
        self.titles = _Gazetteer()
        self.title_rows: dict[str, list[int]] = {}
        for row, m in enumerate(movies):
            key = normalise(m.title)
            if key:
                self.title_rows.setdefault(key, []).append(row)
                self.titles.add(key, row)
        self.titles.finish()
        self.title_keys_by_first: dict[str, list[str]] = {}  # fuzzy candidates share the first letter
        for key in self.title_rows:
            self.title_keys_by_first.setdefault(key[0], []).append(key)
        # One-word genre and language names ("horror", "french"): never a one-word title after a cue.
        self.single_words = frozenset(w for w in (*map(normalise, GENRE_WORDS), *map(str.lower, self.genres),
                                                  *self.language_names, *_COUNT_WORDS) if " " not in w)
        years = [m.year for m in movies if m.year]
        self.newest_year = max(years) if years else 2020

    # -- the parse ---------------------------------------------------------------------------------
    def understand(self, prompt: str) -> Understood:
        original = prompt
        words = prompt_words(prompt)
        text = _Text(words)
        spans: list[_Span] = []
        taken = [False] * len(words)

        def claim(start: int, end: int, kind: str, value: object) -> None:
            if not any(taken[start:end]):
                spans.append(_Span(start, end, kind, value))
                for i in range(start, end):
                    taken[i] = True

        cased = _title_cased_positions(original)
        marks = _year_marks(original)
        stated = _stated_years(marks, words)
        people = self.people.find(text)
        person_ends = {start: end for start, end, _ in people}

        def claim_title(start: int, end: int, rows: tuple[int, ...]) -> bool:
            # Words followed by "(1996)" name a movie of that year: "Fargo (1996)" is not Argo (2012),
            # "The Greatest Showman (2017)" not The Greatest (2009).
            year = stated.get(start)
            if year is not None:
                rows = tuple(r for r in rows if abs(self.movies[r].year - year) <= 1)
            if not rows or person_ends.get(start, start) >= end:  # "I like Adam Sandler": a person, not "Adam"
                return False
            claim(start, end, "title", rows)
            return True

        # Titles with a year: "Inception (2010)".
        for start, end, year in self._titles_with_year(marks):
            claim(start, end, "title", year)
        # Titles after a cue ("like Super Troopers", "I loved inception"), exact or fuzzy.
        for start, end, rows in self._titles_after_cues(words, taken):
            # A short or everyday word after a cue ("I've seen it", "like up") is a title only when
            # capitalised; a genre or language word ("I love horror") is that, not a one-word title.
            if end - start == 1 and words[start] in self.single_words:
                continue
            if end - start > 1 or cased.get(start, False) or (len(words[start]) > 3 and words[start] not in FILLER):
                claim_title(start, end, rows)
        # Titles right after a negation ("anything but Titanic"): exact, and capitalised when one word.
        for _, first in _phrases(words, _NEGATIONS):
            hit = self._exact_title_at(words, first, [False] * len(words))
            if hit is not None and (hit[1] - first > 1 or cased.get(first, False)):
                claim_title(*hit)
        # Lists go on: "like Inception (2010) and Interstellar", "Heat, Ronin or Drive".
        extended = True
        while extended:
            extended = False
            for s in [s for s in spans if s.kind == "title"]:
                nxt = s.end + (1 if s.end < len(words) and words[s.end] in ("and", "or", "|", "also") else 0)
                if nxt == s.end or nxt >= len(words) or taken[nxt]:
                    continue
                hit = self._title_at(words, nxt, taken)
                if hit is not None and not (hit[1] - hit[0] == 1 and words[nxt] in self.single_words):
                    extended = claim_title(*hit) or extended
        # Multi-word titles written in Title Case anywhere ("Pulp Fiction or Reservoir Dogs").
        for start, end, found_rows in self.titles.find(text):
            if end - start >= 2 and all(cased.get(i, False) for i in range(start, end)
                                        if words[i] not in _SMALL_WORDS):
                claim_title(start, end, tuple(r for r in found_rows if isinstance(r, int)))
        for start, end, names in people:
            claim(start, end, "person", names[0])
        for i, w in enumerate(words):  # "a Tarantino movie", "directed by Nolan", "Spielberg films"
            if w in self.director_surnames and cased.get(i, False) and (
                    (i > 0 and words[i - 1] in ("by", "a", "an")) or
                    (i + 1 < len(words) and words[i + 1] in ("movie", "movies", "film", "films", "flick", "flicks"))):
                claim(i, i + 1, "person", self.director_surnames[w])
        for start, end, bounds in _years(words, self.newest_year):
            claim(start, end, "years", bounds)
        for start, end, bound in _runtimes(words):
            claim(start, end, "runtime", bound)
        for start, end in _phrases(words, _KIDS):
            claim(start, end, "kids", True)
        for start, end, genres in self.genre_words.find(text):
            claim(start, end, "genre", tuple(g for group in genres for g in group))  # type: ignore[attr-defined]
        for start, end, codes in self.language_words.find(text):
            claim(start, end, "language", codes[0])
        for start, end, keywords in self.keywords.find(text):
            claim(start, end, "keyword", keywords[0])
        foreign = next((i for i, w in enumerate(words) if w in ("foreign", "subtitled", "subtitles")), None)
        if foreign is not None:
            claim(foreign, foreign + 1, "foreign", True)
        scopes = _negation_scopes(words, spans)
        _mark_negations(spans, scopes)
        return self._assemble(words, spans, scopes)

    def _assemble(self, words: list[str], spans: list[_Span], scopes: list[tuple[int, int, int]]) -> Understood:
        genres: list[str] = []
        excluded_genres: list[str] = []
        keywords: list[str] = []
        excluded_keywords: list[str] = []
        examples: list[int] = []
        excluded_movies: list[int] = []
        people: list[str] = []
        excluded_people: list[str] = []
        languages: list[str] = []
        excluded_languages: list[str] = []
        year_min = year_max = runtime_min = runtime_max = None
        for_kids = False
        mood_skip: set[int] = set()
        for s in spans:
            positions = set(range(s.start, s.end))
            if s.kind == "genre":
                (excluded_genres if s.negated else genres).extend(s.value)  # type: ignore[arg-type]
                if s.negated:
                    mood_skip |= positions
            elif s.kind == "keyword":
                (excluded_keywords if s.negated else keywords).append(s.value)  # type: ignore[arg-type]
                if s.negated:
                    mood_skip |= positions
            elif s.kind == "title":
                rows = list(s.value)  # type: ignore[call-overload]
                (excluded_movies if s.negated else examples).extend(rows[:1])
                mood_skip |= positions
            elif s.kind == "person":
                (excluded_people if s.negated else people).append(s.value)  # type: ignore[arg-type]
                mood_skip |= positions
            elif s.kind == "language":
                (excluded_languages if s.negated else languages).extend(s.value)  # type: ignore[arg-type]
                mood_skip |= positions
            elif s.kind == "foreign":
                if s.negated:
                    languages.append("en")
                else:
                    excluded_languages.append("en")
                mood_skip |= positions
            elif s.kind == "years":
                low: int | None
                high: int | None
                low, high = s.value  # type: ignore[misc]
                if s.negated:  # "not from the 80s": rare; read "nothing before 1990" as a lower bound
                    if low is None and high is not None:
                        low, high = high + 1, None
                    elif high is None and low is not None:
                        below = low - 1
                        low, high = None, below
                    else:
                        continue
                year_min = low if low is not None else year_min
                year_max = high if high is not None else year_max
                mood_skip |= positions
            elif s.kind == "runtime":
                low, high = s.value  # type: ignore[misc]
                if s.negated and high is None and low is not None:  # "not too long" -> at most that long
                    low, high = None, low
                runtime_min = low if low is not None else runtime_min
                runtime_max = high if high is not None else runtime_max
                mood_skip |= positions
            elif s.kind == "kids":
                for_kids = True
                mood_skip |= positions
        if for_kids and "Horror" in self.genres:
            excluded_genres.append("Horror")
        # Negation cues and whatever else was negated leave the mood too; so do filler-only moods.
        for start, _, stop in scopes:
            mood_skip |= set(range(start, stop))
        for start, end in _phrases(words, _SMALL_TALK):
            mood_skip |= set(range(start, end))
        mood_words = [w for i, w in enumerate(words) if i not in mood_skip and not _is_cue(words, i) and w != "|"]
        mood = " ".join(mood_words) if any(w not in FILLER for w in mood_words) else ""
        # A genre both asked for and excluded ("scary movies, not too gory") is asked for: the
        # exclusion came through a synonym of it, the wish named it.
        excluded_genres = [g for g in excluded_genres if g not in genres or (for_kids and g == "Horror")]
        genres = [g for g in dict.fromkeys(genres) if g not in excluded_genres]
        return Understood(
            mood=mood, genres=tuple(genres), excluded_genres=tuple(dict.fromkeys(excluded_genres)),
            keywords=tuple(dict.fromkeys(keywords)), excluded_keywords=tuple(dict.fromkeys(excluded_keywords)),
            examples=tuple(dict.fromkeys(r for r in examples if r not in excluded_movies)),
            excluded_movies=tuple(dict.fromkeys(excluded_movies)), people=tuple(dict.fromkeys(people)),
            excluded_people=tuple(dict.fromkeys(excluded_people)), year_min=year_min, year_max=year_max,
            runtime_min=runtime_min, runtime_max=runtime_max, languages=tuple(dict.fromkeys(languages)),
            excluded_languages=tuple(dict.fromkeys(c for c in excluded_languages if c not in languages)),
            for_kids=for_kids)

    # -- titles --------------------------------------------------------------------------------------
    def _titles_with_year(self, marks: list[tuple[int, list[str]]]) -> list[tuple[int, int, tuple[int, ...]]]:
        out = []
        for year, before in marks:
            end = len(before)
            # The longest title that ends right before "(year)" with a release year within 1.
            for start in range(max(0, end - 12), end):
                key = " ".join(before[start:end])
                rows = [r for r in self.title_rows.get(key, ()) if abs(self.movies[r].year - year) <= 1]
                if rows:
                    rows.sort(key=lambda r: abs(self.movies[r].year - year))
                    out.append((start, end + 1, tuple(rows)))  # the year's word goes with the title
                    break
        return out

    def _titles_after_cues(self, words: list[str], taken: list[bool]) -> list[tuple[int, int, tuple[int, ...]]]:
        out = []
        for _, first in _phrases(words, _EXAMPLES):
            while first < len(words) and words[first] in ("is", "was", "are", "were", "movie", "film", "called"):
                first += 1
            best = self._title_at(words, first, taken)
            if best is not None:
                out.append(best)
        return out

    def _title_at(self, words: list[str], first: int, taken: list[bool]) -> tuple[int, int, tuple[int, ...]] | None:
        """The longest title that starts at word `first` (exactly, else a close misspelling)."""
        return self._exact_title_at(words, first, taken) or self._fuzzy_title(words, first, taken)

    def _exact_title_at(self, words: list[str], first: int,
                        taken: list[bool]) -> tuple[int, int, tuple[int, ...]] | None:
        """(first, end, rows) of the longest title spelt exactly from word `first` on, over words not taken."""
        for stop in range(min(len(words), first + 10), first, -1):
            key = " ".join(words[first:stop])
            if key in self.title_rows and not any(taken[first:stop]):
                return first, stop, tuple(self.title_rows[key])
        return None

    def _fuzzy_title(self, words: list[str], first: int, taken: list[bool]) -> tuple[int, int, tuple[int, ...]] | None:
        """The closest title to the 1-6 words after a cue, if it is close enough to be a misspelling."""
        best = None
        for stop in range(first + 1, min(len(words), first + 6) + 1):
            window = words[first:stop]
            # A window ending in "movies" is a kind of movie ("superhero movies"), not a misspelt title.
            if any(taken[first:stop]) or "|" in window or window[-1] in FILLER or \
                    all(w in FILLER or w in GENRE_WORDS for w in window):
                continue
            text = " ".join(window)
            if len(text) < 5:
                continue
            # A misspelling keeps the first letter and the numbers: "fargo" is not "argo", nor
            # "scary movie" "scary movie 2".
            hit = process.extractOne(text, self.title_keys_by_first.get(text[0], ()), scorer=fuzz.ratio,
                                     score_cutoff=86, processor=None)
            if hit and _numbers(hit[0]) == _numbers(text) and \
                    (best is None or hit[1] > best[0]):
                best = (hit[1], stop, hit[0])
        if best is None:
            return None
        return first, best[1], tuple(self.title_rows[best[2]])


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def _year_marks(original: str) -> list[tuple[int, list[str]]]:
    """(year, the prompt's words before it) for each year written in parentheses: "Fargo (1996)"."""
    return [(int(m.group(1)), prompt_words(original[:m.start()])) for m in re.finditer(r"\((\d{4})\)", original)]


def _stated_years(marks: list[tuple[int, list[str]]], words: list[str]) -> dict[int, int]:
    """prompt_words position -> the year written in parentheses after it: the words before "Fargo (1996)",
    back to the clause's start, a cue ("like"), a list's "and"/"or", or 12 words, name a movie of 1996."""
    out: dict[int, int] = {}
    for year, before in marks:
        end = len(before)
        for i in range(end - 1, max(-1, end - 13), -1):
            if i >= len(words) or words[i] in _YEAR_RUN_ENDS or words[i] in _EXAMPLE_WORDS:
                break
            out.setdefault(i, year)
    return out


_YEAR_RUN_ENDS = frozenset(("|", "and", "or", "also"))


_COUNT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_SMALL_WORDS = frozenset("a an the of and or in on at to for with from by vs".split())


def _title_cased_positions(original: str) -> dict[int, bool]:
    """prompt_words position -> whether the word was capitalised (or a number) in the original text."""
    out: dict[int, bool] = {}
    position = 0
    for token in _CASED_TOKEN.findall(_with_clause_marks(original)):
        cased = token[:1].isupper() or token[:1].isdigit()
        # A plain word is one normalised word; only the others need normalising to count their parts.
        for _ in ((token,) if token.isascii() and token.isalnum() else normalise(token, keep="|").split()):
            out[position] = cased
            position += 1
    return out


_CASED_TOKEN = re.compile(r"[^\W_][\w'\-]*|&|\|")


def _by_first_word(phrases: Sequence[str]) -> dict[str, list[list[str]]]:
    """A phrase list indexed by first word, each word's phrases in the list's order."""
    index: dict[str, list[list[str]]] = {}
    for phrase in phrases:
        parts = phrase.split()
        index.setdefault(parts[0], []).append(parts)
    return index


_NEGATIONS, _EXAMPLES, _KIDS, _SMALL_TALK = (_by_first_word(p) for p in (NEGATION_CUES, EXAMPLE_CUES, KIDS_PHRASES,
                                                                           SMALL_TALK))


def _phrases(words: list[str], by_first: dict[str, list[list[str]]]) -> list[tuple[int, int]]:
    """(start, end) of the first phrase (in its list's order) that starts at each word position."""
    out = []
    for i, word in enumerate(words):
        for parts in by_first.get(word, ()):
            if words[i:i + len(parts)] == parts:
                out.append((i, i + len(parts)))
                break
    return out


_CUE_WORDS = frozenset(c for c in NEGATION_CUES if " " not in c) | SCOPE_ENDS
_EXAMPLE_WORDS = frozenset(c for c in EXAMPLE_CUES if " " not in c)


def _is_cue(words: list[str], i: int) -> bool:
    return words[i] in _CUE_WORDS


_DECADES = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
            "seventies": 1970, "eighties": 1980, "nineties": 1990}


_DECADE = re.compile(r"(?:(19|20)?(\d)0)s")
_YEAR = re.compile(r"(19|20)\d\d")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|hr|hrs|hours?|m|min|mins|minutes?)?")


def _years(words: list[str], newest_year: int) -> list[tuple[int, int, tuple[int | None, int | None]]]:
    """Year ranges: decades, "from/in 1985", "before/after/since 2000", "between 1990 and 2000", recent (the
    catalogue's last five years before `newest_year`), classic (before 1980)."""
    out: list[tuple[int, int, tuple[int | None, int | None]]] = []
    i = 0
    while i < len(words):
        w = words[i]
        prev = words[i - 1] if i else ""
        m = _DECADE.fullmatch(w) if w[:1].isdigit() else None
        if m:
            century = int(m.group(1) or 0) * 100 or (1900 if int(m.group(2)) >= 2 else 2000)
            start = century + int(m.group(2)) * 10
            begin = i - 1 if prev in ("the", "early", "late", "mid") else i
            low, high = start, start + 9
            if prev == "early":
                high = start + 4
            elif prev == "late":
                low = start + 5
            out.append((begin, i + 1, (low, high)))
        elif w in _DECADES:
            begin = i - 1 if prev == "the" else i
            out.append((begin, i + 1, (_DECADES[w], _DECADES[w] + 9)))
        elif _YEAR.fullmatch(w):
            year = int(w)
            nxt = words[i + 1: i + 3]
            if prev == "between" and len(nxt) == 2 and nxt[0] in ("and", "to") and _YEAR.fullmatch(nxt[1]):
                out.append((i - 1, i + 3, (year, int(nxt[1]))))
                i += 3
                continue
            if prev in ("before", "pre", "until", "til", "till"):
                out.append((i - 1, i + 1, (None, year - 1)))
            elif prev in ("after", "post"):
                out.append((i - 1, i + 1, (year + 1, None)))
            elif prev == "since":
                out.append((i - 1, i + 1, (year, None)))
            elif prev in ("from", "in", "of") or (i + 1 < len(words) and words[i + 1] in ("movie", "film", "movies")):
                if i + 2 < len(words) and words[i + 1] in ("to", "through", "until") and \
                        _YEAR.fullmatch(words[i + 2]):
                    out.append((i - 1, i + 3, (year, int(words[i + 2]))))
                    i += 3
                    continue
                out.append((i - 1 if prev in ("from", "in", "of") else i, i + 1, (year, year)))
        elif w in ("recent", "new", "newer", "latest", "modern") and (i + 1 >= len(words) or words[i + 1] not in
                                                                        ("york", "zealand", "orleans")):
            out.append((i, i + 1, (newest_year - 5, None)))
        elif w in ("classic", "classics", "oldie", "oldies", "vintage") or (w in ("old", "older") and i + 1 < len(
                words) and words[i + 1] in ("movie", "movies", "film", "films", "flick", "flicks", "one", "ones")):
            out.append((i, i + 1, (None, 1979)))
        i += 1
    return out


_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "ninety": 90, "hundred": 100}
_UPPER_CUES = (("no", "longer", "than"), ("not", "longer", "than"), ("nothing", "longer", "than"),
               ("shorter", "than"), ("less", "than"), ("under",), ("below",), ("within",), ("at", "most"),
               ("max",), ("maximum",), ("only", "have"), ("only", "got"), ("up", "to"))
_LOWER_CUES = (("over",), ("more", "than"), ("longer", "than"), ("at", "least"), ("above",))
_UNITS = {"h": 60, "hr": 60, "hrs": 60, "hour": 60, "hours": 60, "m": 1, "min": 1, "mins": 1, "minute": 1,
          "minutes": 1}


_UPPER_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
_LOWER_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _cues, _by_first in ((_UPPER_CUES, _UPPER_BY_FIRST), (_LOWER_CUES, _LOWER_BY_FIRST)):
    for _cue in _cues:
        _by_first.setdefault(_cue[0], []).append(_cue)
_CUE_GROUPS = ((_UPPER_BY_FIRST, True), (_LOWER_BY_FIRST, False))


def _duration(words: list[str], i: int) -> tuple[int, int] | None:
    """(minutes, words used) of a duration starting at words[i]: "90 minutes", "2 hours", "an hour and a half",
    "two hours", "1h30", "an hour and 45 minutes"; None if there is none."""
    w = words[i] if i < len(words) else ""
    m = _DURATION.fullmatch(w) if w[:1].isdigit() else None
    if m:
        value, unit, used = float(m.group(1)), m.group(2), 1
    elif w in _NUMBER_WORDS:
        value, unit, used = float(_NUMBER_WORDS[w]), None, 1
    else:
        return None
    if unit is None:
        unit = words[i + used] if i + used < len(words) and words[i + used] in _UNITS else None
        if unit is None:
            return None
        used += 1
    minutes = value * _UNITS[unit]
    rest = words[i + used:i + used + 4]
    if _UNITS[unit] == 60 and rest[:3] == ["and", "a", "half"]:
        minutes, used = minutes + 30, used + 3
    elif _UNITS[unit] == 60 and rest[:1] == ["and"] and len(rest) >= 3 and rest[1].isdigit() and \
            rest[2] in ("minutes", "minute", "mins", "min"):
        minutes, used = minutes + int(rest[1]), used + 3
    return int(minutes), used


def _runtimes(words: list[str]) -> list[tuple[int, int, tuple[int | None, int | None]]]:
    """Runtime bounds in minutes: "under 90 minutes", "no longer than two hours", "we only have an hour and
    a half", "over 3 hours", "short", "not too long" (with its negation)."""
    out: list[tuple[int, int, tuple[int | None, int | None]]] = []
    for i, w in enumerate(words):
        groups = _CUE_GROUPS if w in _UPPER_BY_FIRST or w in _LOWER_BY_FIRST else ()
        for cues, upper in groups:
            cue = next((c for c in cues.get(w, ()) if tuple(words[i:i + len(c)]) == c), None)
            if cue is None:
                continue
            found = _duration(words, i + len(cue))
            if found is not None:
                minutes, used = found
                out.append((i, i + len(cue) + used, (None, minutes) if upper else (minutes, None)))
                break
        else:
            if w in ("short", "shorter", "quick"):
                out.append((i, i + 1, (None, 95)))
            elif w in ("long", "lengthy", "longer") and i > 0 and words[i - 1] in ("too", "very", "really", "so"):
                # Meant with a negation ("not too long"): Understander._assemble turns it into an upper bound.
                out.append((i, i + 1, (120, None)))
            elif i > 0 and words[i - 1] in ("have", "got") and (found := _duration(words, i)) is not None:
                out.append((i, i + found[1], (None, found[0])))  # "we have 90 minutes"
    return out


def _negation_scopes(words: list[str], spans: list[_Span]) -> list[tuple[int, int, int]]:
    """(cue start, cue end, scope end) of each negation: from the cue to the next clause boundary."""
    boundaries = sorted(i for i, w in enumerate(words) if w in SCOPE_ENDS or w == "|")
    out = []
    for cue_start, cue_end in _phrases(words, _NEGATIONS):
        # A cue word that is part of a recognised span ("No Country for Old Men") is not a cue.
        if not any(s.start <= cue_start < s.end for s in spans):
            out.append((cue_start, cue_end, next((b for b in boundaries if b >= cue_end), len(words))))
    return out


def _mark_negations(spans: list[_Span], scopes: list[tuple[int, int, int]]) -> None:
    """Flag the spans inside a negation scope."""
    for cue_start, cue_end, stop in scopes:
        for s in spans:
            if cue_end <= s.start < stop:
                s.negated = True
                s.scope_start = cue_start


def with_example_genres(query: Understood, movies: Sequence[Movie]) -> Understood:
    """"Like X" with no genre named asks for X's kind of movie: X's genres become the wanted genres
    (any of them), less the excluded ones. Shown in the response, so a person can correct it."""
    if not query.examples or query.genres:
        return query
    genres = tuple(dict.fromkeys(g for row in query.examples for g in movies[row].genres
                                 if g not in query.excluded_genres))
    return replace(query, genres=genres) if genres else query
