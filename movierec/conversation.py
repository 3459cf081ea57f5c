"""A conversation read as one request: each turn understood on its own, then merged.

Who said what matters. A SEEKER turn (the people choosing) states wishes and limits and names movies
with a verdict; a RECOMMENDER turn (this service or a person suggesting) names suggestions, whose
verdict is the seekers' next turn ("seen it", "too dark", "oh I loved that one"). The merge:

- wishes and limits accumulate over the seekers' turns; a later turn that speaks to the same
  aspect replaces the earlier one (the genres wished, the people, the years, the runtime, the
  languages), and a later wish lifts an earlier exclusion of the same thing (and the reverse);
  the audience, once children, stays children (a safety limit, never lifted by a later turn);
- every movie named is read as liked (an example: its neighbours are favoured), disliked (a
  negative example: never returned, its neighbours pushed down), seen (neutral) or, for a
  suggestion nobody answered, suggested (neutral); every movie named is left out of the list
  unless the request includes rated movies, and a disliked one always is;
- the mood embedded is the seekers' moods without their verdict words ("loved", "seen it"; "fun" stays), the
  most recent ones up to `mood_words` words, oldest first (one encoder forward for the whole
  conversation, of a bounded length however long it grows);
- each constraint says which turn it came from.

Turn numbers count from 0 in the conversation as given (a request's `prompt` is one more SEEKER turn
at the end).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from movierec.domain import RECOMMENDER, Turn
from movierec.understanding import Understood, normalise

LIKED, DISLIKED, SEEN, SUGGESTED = "liked", "disliked", "seen", "suggested"

# A seeker's verdict on the suggestion just made, read from their reply when it names no movie of its
# own. Dislikes are looked for first: "didn't like it" contains "like it".
_DISLIKE_REPLIES = (
    "not my thing",
    "not my kind",
    "not my cup of tea",
    "not for me",
    "not for us",
    "not really for me",
    "not a fan",
    "not really a fan",
    "not interested",
    "no thanks",
    "no thank you",
    "not really into",
    "not into",
    "didnt like",
    "did not like",
    "didnt enjoy",
    "did not enjoy",
    "didnt love",
    "wasnt a fan",
    "wasnt for me",
    "werent for me",
    "dont like",
    "do not like",
    "dont care for",
    "hated",
    "hate that",
    "hate it",
    "disliked",
    "couldnt stand",
    "cant stand",
    "too scary",
    "too dark",
    "too violent",
    "too long",
    "too slow",
    "too sad",
    "too gory",
    "too much",
    "boring",
    "pass on",
    "hard pass",
    "nah",
    "nope",
    "meh",
    "not great",
    "wasnt great",
    "not good",
    "wasnt good",
    "awful",
    "terrible",
    "the worst",
    "overrated",
    "fell asleep",
    "not that one",
    "not this one",
    "but no",
    "but not",
    "rather not",
    "not my style",
)
_SEEN_REPLIES = (
    "seen it",
    "seen that",
    "seen this",
    "seen them",
    "seen those",
    "seen both",
    "seen all",
    "seen em",
    "saw it",
    "saw that",
    "saw this",
    "saw them",
    "saw those",
    "saw both",
    "watched it",
    "watched that",
    "watched this",
    "watched them",
    "watched those",
    "watched both",
    "have seen",
    "ive seen",
    "weve seen",
    "already seen",
    "seen it already",
    "already watched",
    "already saw",
)
_UNSEEN_REPLIES = (
    "havent seen",
    "have not seen",
    "hasnt seen",
    "never seen",
    "not seen",
    "didnt see",
    "did not see",
    "never saw",
    "havent watched",
    "have not watched",
    "never watched",
    "not watched",
    "didnt watch",
    "not yet seen",
    "yet to see",
)
_LIKE_REPLIES = (
    "loved",
    "love it",
    "love that",
    "love this",
    "love them",
    "i love",
    "liked",
    "i like",
    "like that",
    "like it",
    "like the sound",
    "enjoyed",
    "sounds good",
    "sounds great",
    "sounds fun",
    "sounds interesting",
    "sounds perfect",
    "sounds like",
    "good one",
    "good choice",
    "good pick",
    "awesome",
    "perfect",
    "favorite",
    "favourite",
    "fantastic",
    "amazing",
    "excellent",
    "brilliant",
    "will check",
    "ill check",
    "well check",
    "will watch",
    "ill watch",
    "well watch",
    "will try",
    "ill try",
    "well try",
    "add it",
    "add that",
    "on my list",
    "ill give it",
    "give it a",
)
# Words of courtesy that pass a verdict only when they are the whole reply ("ok!", "thanks"): in
# "Thanks! Anything funnier?" they are manners, and the reply asks for something else.
_COURTESY_REPLIES = (
    "yes",
    "yeah",
    "yep",
    "sure",
    "ok",
    "okay",
    "thanks",
    "thank you",
    "great",
    "nice",
    "cool",
    "interesting",
    "fun",
    "sounds good",
    "good",
)
# A reply that says it does not know yet: no verdict, whatever else it says.
_UNDECIDED_REPLIES = ("not sure", "no idea", "dont know", "do not know", "maybe", "not yet")
# A word that turns the liking after it around ("doesn't sound fun", "not cool", "thanks but no").
_NEGATORS = frozenset("not no dont doesnt didnt never isnt wasnt wouldnt nah nope".split())
_NEGATOR_REACH = 3  # words between a negator and the liking it turns
_LIKING_WORDS = frozenset(
    "love loved like liked enjoyed good great fun interesting perfect awesome cool nice "
    "fantastic amazing excellent brilliant favorite favourite yes yeah yep sure ok okay thanks "
    "watch check try style".split()
)

_COURTESY_WORDS = frozenset(w for p in _COURTESY_REPLIES for w in p.split()) | {"oh", "ooh", "that", "it", "so"}
_TITLE_YEAR = re.compile(r"\((1[89]\d\d|20\d\d)\)")
_CLAUSE_BREAK = re.compile(r"(?<=[.!?;])\s+|\s+but\s+", re.IGNORECASE)
_ERA_WORD = re.compile(r"\b(?:classic|classics|old|older|oldie|new|newer|recent|latest|modern)\b")
# "that's a classic", "it is so old", "Jurassic Park is an old favourite": an era said of a movie.
_ERA_SAID_OF_A_MOVIE = re.compile(
    r"\b(?:thats|that is|its|it is|is|was|are|were)\s+(?:(?:a|an|another|such|so|really|pretty|true|real)\s+)*"
    r"(?:classic|classics|old|oldie|new|recent|modern)\b"
)
# "the new Star Wars", "the original one": an era naming which film of several.
_ERA_OF_A_TITLE = re.compile(r"\bthe (?:new|newest|latest|old|older|original|recent)\b")
# Longest first, so "seen it already" goes before "seen it"; normalised as moods are.
_VERDICT_PHRASES = sorted(
    {normalise(p) for p in (*_DISLIKE_REPLIES, *_UNSEEN_REPLIES, *_SEEN_REPLIES, *_LIKE_REPLIES)} - {""},
    key=lambda p: (-len(p.split()), p),
)
# Words left alone once a verdict is taken out ("i", "oh", "that one"): they say nothing of a movie.
_REPLY_FILLER = frozenset(
    "i we im ive weve it its that this one oh ooh wow so really very already just too lol haha".split()
)


def _has(words: str, phrases: Sequence[str]) -> bool:
    return any(f" {p} " in words for p in phrases)


def _negated(tokens: list[str]) -> bool:
    """Whether a negator reaches a liking word ("doesnt sound fun") or ends the reply ("thanks but no")."""
    for i, token in enumerate(tokens):
        if token in _NEGATORS and (
            i == len(tokens) - 1 or any(t in _LIKING_WORDS for t in tokens[i + 1 : i + 1 + _NEGATOR_REACH])
        ):
            return True
    return False


def reply_verdict(text: str) -> str | None:
    """The verdict a reply passes on what was just suggested: DISLIKED, SEEN (and not liked), LIKED, or
    None when it passes none ("I haven't seen it" says it is new to them, "not sure" is undecided, and
    "Thanks! Anything funnier?" is manners: no verdict)."""
    normalised = normalise(text)
    words, tokens = f" {normalised} ", normalised.split()
    if _has(words, _DISLIKE_REPLIES):
        return DISLIKED
    if _has(words, _UNDECIDED_REPLIES):
        return None
    liked = _has(words, _LIKE_REPLIES) or (
        _has(words, _COURTESY_REPLIES) and not [t for t in tokens if t not in _COURTESY_WORDS]
    )
    if _negated(tokens):
        return DISLIKED
    unseen = _has(words, _UNSEEN_REPLIES)
    if liked:
        return LIKED
    return SEEN if not unseen and _has(words, _SEEN_REPLIES) else None


@dataclass(frozen=True)
class NamedMovie:
    """A catalogue row named in the conversation, how it was read, and the turn it was last read from."""

    row: int
    reading: str
    turn: int


def _later(earlier: tuple[str, ...], later: tuple[str, ...], lifted: tuple[str, ...]) -> tuple[str, ...]:
    """`later` when it says anything, else `earlier`; less what the later turn rules out."""
    return tuple(x for x in (later or earlier) if x not in lifted)


def _accumulated(earlier: tuple[str, ...], later: tuple[str, ...], lifted: tuple[str, ...]) -> tuple[str, ...]:
    """`earlier` and `later` together, less what the later turn now wishes for."""
    return tuple(dict.fromkeys([x for x in earlier if x not in lifted] + list(later)))


def _merge(merged: Understood, u: Understood) -> Understood:
    """`merged` with one more seeker turn's wishes and limits on top."""
    vague = list(merged.vague)
    changes: dict[str, Any] = {}
    if u.year_min is not None or u.year_max is not None:
        changes.update(year_min=u.year_min, year_max=u.year_max)
        vague = [v for v in vague if v != "years"] + (["years"] if "years" in u.vague else [])
    if u.runtime_min is not None or u.runtime_max is not None:
        changes.update(runtime_min=u.runtime_min, runtime_max=u.runtime_max)
        vague = [v for v in vague if v != "runtime"] + (["runtime"] if "runtime" in u.vague else [])
    return replace(
        merged,
        **changes,
        genres=_later(merged.genres, u.genres, u.excluded_genres),
        excluded_genres=_accumulated(merged.excluded_genres, u.excluded_genres, u.genres),
        keywords=_accumulated(merged.keywords, u.keywords, u.excluded_keywords),
        excluded_keywords=_accumulated(merged.excluded_keywords, u.excluded_keywords, u.keywords),
        people=_later(merged.people, u.people, u.excluded_people),
        excluded_people=_accumulated(merged.excluded_people, u.excluded_people, u.people),
        languages=_later(merged.languages, u.languages, u.excluded_languages),
        excluded_languages=_accumulated(merged.excluded_languages, u.excluded_languages, u.languages),
        for_kids=merged.for_kids or u.for_kids,
        vague=tuple(dict.fromkeys(vague)),
        readings=tuple(dict.fromkeys((*merged.readings, *u.readings))),
    )


def constraint_words(u: Understood) -> list[str]:
    """Each constraint of `u` in the words `Understood.readings` uses ("Comedy", "not Horror", "with
    Tom Hanks", "1990-1999", "at most 95 min", "in ko", "for kids")."""
    words = list(u.genres) + [f"not {g}" for g in u.excluded_genres]
    words += [f"with {p}" for p in u.people] + [f"without {p}" for p in u.excluded_people]
    if u.year_min is not None or u.year_max is not None:
        words.append(
            f"{u.year_min}-{u.year_max}"
            if u.year_min is not None and u.year_max is not None
            else f"from {u.year_min}"
            if u.year_min is not None
            else f"until {u.year_max}"
        )
    if u.runtime_max is not None:
        words.append(f"at most {u.runtime_max} min")
    if u.runtime_min is not None:
        words.append(f"at least {u.runtime_min} min")
    words += [f"in {c}" for c in u.languages] + [f"not in {c}" for c in u.excluded_languages]
    words += [f"no {k}" for k in u.excluded_keywords]
    if u.for_kids:
        words.append("for kids")
    return words


def without_constraints(u: Understood, dropped: Sequence[str]) -> Understood:
    """`u` without the constraints named in `dropped`, each in the words of `constraint_words` (a person
    removing a misread one); a name matching no constraint of `u` changes nothing."""
    gone = {d.strip().lower() for d in dropped}
    gone = {d for d in gone if d} & {w.lower() for w in constraint_words(u)}
    if not gone:
        return u

    def kept(values: tuple[str, ...], prefix: str) -> tuple[str, ...]:
        return tuple(v for v in values if f"{prefix}{v}".lower() not in gone)

    changes: dict[str, object] = dict(
        genres=kept(u.genres, ""),
        excluded_genres=kept(u.excluded_genres, "not "),
        people=kept(u.people, "with "),
        excluded_people=kept(u.excluded_people, "without "),
        languages=kept(u.languages, "in "),
        excluded_languages=kept(u.excluded_languages, "not in "),
        excluded_keywords=kept(u.excluded_keywords, "no "),
        readings=tuple(r for r in u.readings if r[0].lower() not in gone),
        from_turns=tuple(t for t in u.from_turns if t[0].lower() not in gone),
    )
    if gone & {w.lower() for w in constraint_words(Understood(year_min=u.year_min, year_max=u.year_max))}:
        changes.update(year_min=None, year_max=None)
    if u.runtime_max is not None and f"at most {u.runtime_max} min" in gone:
        changes["runtime_max"] = None
    if u.runtime_min is not None and f"at least {u.runtime_min} min" in gone:
        changes["runtime_min"] = None
    if "for kids" in gone:
        changes["for_kids"] = False
    return replace(u, **changes)  # type: ignore[arg-type]


def without_verdicts(mood: str) -> str:
    """A turn's mood without the words that pass a verdict (they describe the speaker, not the movie)."""
    words = f" {mood} "
    for phrase in _VERDICT_PHRASES:
        while f" {phrase} " in words:
            words = words.replace(f" {phrase} ", " ")
    return " ".join(w for w in words.split() if w not in _REPLY_FILLER)


def recent_words(moods: Sequence[str], limit: int) -> str:
    """The last `limit` words of the moods, oldest first."""
    words = " ".join(moods).split()
    return " ".join(words[-limit:]) if limit > 0 else ""


def _without_years_of_movies(u: Understood, text: str, names_a_movie: bool) -> Understood:
    """A turn's reading without the years that belong to movies it talks about: a title's "(2017)", even one
    the catalogue lacks (unless the year is also said as a wish), and an era's word said of a movie ("the
    new Star Wars", "that's a classic", "the new It (2017)") describe the movie, not what the seekers want;
    "I loved Inception. Something recent please" keeps its wish."""
    marks = [int(y) for y in _TITLE_YEAR.findall(text)]
    bounds = [b for b in (u.year_min, u.year_max) if b is not None]
    of_titles = any(abs(b - y) <= 1 and text.count(str(y)) == text.count(f"({y})") for b in bounds for y in marks)
    clauses = [normalise(c) for c in _CLAUSE_BREAK.split(text)]
    described = "years" in u.vague and (
        any(_ERA_SAID_OF_A_MOVIE.search(c) for c in clauses)
        or any(_TITLE_YEAR.search(raw) and _ERA_WORD.search(normalise(raw)) for raw in _CLAUSE_BREAK.split(text))
        or (names_a_movie and any(_ERA_OF_A_TITLE.search(c) for c in clauses))
    )
    if not (of_titles or described):
        return u
    return replace(u, year_min=None, year_max=None, vague=tuple(v for v in u.vague if v != "years"))


def _seen_in_clauses(understand: Callable[[str], Understood], text: str, rows: Sequence[int]) -> set[int]:
    """The rows of `rows` that a clause of `text` names together with a "seen" verdict ("Already seen Titanic.
    I want something like Alien": Titanic only); with one clause, all of them."""
    clauses = [c for c in _CLAUSE_BREAK.split(text) if c.strip()]
    if len(clauses) < 2 or len(rows) < 2:
        return set(rows)
    return {
        row for clause in clauses if reply_verdict(clause) == SEEN for row in understand(clause).examples if row in rows
    }


def read_conversation(
    understand: Callable[[str], Understood], turns: Sequence[Turn], mood_words: int = 1000
) -> Understood:
    """The conversation as one Understood: merged wishes and limits, `examples` the liked movies, `disliked`
    the disliked ones, `excluded_movies` the disliked too (never returned), `named` every named movie with
    its reading and turn, `from_turns` (constraint, turn) for each constraint kept, `mood` the seekers'
    last `mood_words` words. `understand`: one text's reading (Understander.understand, or a cached one:
    a conversation resends its earlier turns with every request)."""
    merged = Understood()
    origin: dict[str, int] = {}  # constraint words -> the turn that last stated them
    named: dict[int, NamedMovie] = {}
    moods: list[str] = []
    pending: list[int] = []  # rows the last recommender turn suggested, awaiting a verdict
    for i, turn in enumerate(turns):
        u = understand(turn.text)
        mentioned = list(dict.fromkeys((*u.examples, *u.excluded_movies)))
        if turn.role == RECOMMENDER:
            for row in mentioned:
                if row not in named or named[row].reading == SUGGESTED:
                    named[row] = NamedMovie(row, SUGGESTED, i)
            pending = [r for r in mentioned if named[r].reading == SUGGESTED]
            continue
        verdict = reply_verdict(turn.text)
        u = _without_years_of_movies(u, turn.text, bool(mentioned))
        before, stated = set(constraint_words(merged)), set(constraint_words(u))
        merged = _merge(merged, u)
        for words in constraint_words(merged):
            if words not in before or words in stated:
                origin[words] = i
        # A seeker's verdict words say how they feel ("loved it! now a heist", "I really liked Heat"), not
        # what the film is; words of courtesy that also describe a film ("a fun movie") stay.
        if mood := without_verdicts(u.mood):
            moods.append(mood)
        seen = _seen_in_clauses(understand, turn.text, u.examples) if verdict == SEEN else set()
        for row in u.examples:
            named[row] = NamedMovie(row, SEEN if row in seen else LIKED, i)
        for row in u.excluded_movies:
            named[row] = NamedMovie(row, DISLIKED, i)
        if pending and not mentioned and verdict is not None:
            for row in pending:
                named[row] = NamedMovie(row, verdict, i)
        pending = []
    readings = tuple(named.values())
    liked = tuple(n.row for n in readings if n.reading == LIKED)
    disliked = tuple(n.row for n in readings if n.reading == DISLIKED)
    kept = constraint_words(merged)
    return replace(
        merged,
        mood=recent_words(moods, mood_words),
        examples=liked,
        disliked=disliked,
        excluded_movies=disliked,
        named=tuple((n.row, n.reading, n.turn) for n in readings),
        from_turns=tuple((w, origin[w]) for w in kept if w in origin),
    )
