"""How well the understanding stage reads real phrasings of likes and dislikes: ReDial seeker utterances.

ReDial (Li et al. 2018, CC BY 4.0; read from ../shared/data/redial) has, for each conversation, the
seeker's own questionnaire: for every movie mentioned, whether they liked it (`initiatorQuestions[id]
.liked`: 0 disliked, 1 liked, 2 did not say). Two kinds of seeker utterances are mined here:

- movie mentions: an utterance that names (`@<id>`) at least one catalogue movie whose questionnaire
  label is 0 or 1. Each (utterance, movie, label) is one automatic case: a liked movie is read
  correctly when its row is among the examples and not among the excluded movies; a disliked movie
  strictly when it is among the excluded movies, leniently when it is at least not an example.
- genre dislikes: an utterance where a genre word sits near a negative word ("don't like", "hate",
  "not into", "no", "nothing", ...; `genre_dislike_cues`). The pattern is deliberately generous and
  has no automatic label: the questionnaire says nothing about genres.

The questionnaire is about the movie, not about what the utterance says ("have you seen X?" carries
the seeker's label of X too), so a seeded sample of both kinds was read by hand and labelled from
its words alone (`redial_labels.jsonl`: conversation and message ids, TMDB ids and TMDB genre names,
a note on the construction; never any text of the data). `score_labels` compares the stage to it.

The text the stage reads is the utterance with each `@<id>` written out as its `movieMentions` title
("Title (year)"), as `conversations.load_conversations` does (`%3F` read as "?"). ReDial titles map
to catalogue movies with `conversations.TitleMapper`.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from movierec.domain import Movie
from movierec.evaluation.conversations import MENTION, TitleMapper, read_conversations, written_out
from movierec.understanding import Understander, Understood

DEV = Path("../shared/data/redial/dev.jsonl")
LABELS = Path(__file__).parent / "redial_labels.jsonl"
SAMPLE_SEED = 2018
SAMPLE_MENTIONS = 40
SAMPLE_GENRES = 20

Key = tuple[int, int]  # (conversationId, messageId)

# -- the genre-dislike pattern ------------------------------------------------------------------------
# Everyday genre words -> TMDB genre names (whole words, case-insensitive). Written for mining, not
# taken from the understanding stage's own word list.
_GENRE_WORDS: dict[str, str] = {
    r"horror|horrors|scary|scare|scares|scarey|gore|gory|gorey|slashers?|creepy|spooky|frightening": "Horror",
    r"comed(?:y|ies)|funny|comedic|humou?r|humorous|slapstick": "Comedy",
    r"romance|romances|romantic|rom[- ]?coms?|chick[- ]?flicks?|love[- ]stor(?:y|ies)|mushy|sappy": "Romance",
    r"action|actions": "Action",
    r"dramas?|dramatic": "Drama",
    r"sci[- ]?fi|science[- ]fiction|scifi": "Science Fiction",
    r"thrillers?|suspense|suspenseful": "Thriller",
    r"documentar(?:y|ies)|docs?": "Documentary",
    r"animated|animation|cartoons?|anime|pixar": "Animation",
    r"musicals?|music": "Music",
    r"westerns?|cowboys?": "Western",
    r"war": "War",
    r"crime|gangsters?|mafia|mob": "Crime",
    r"myster(?:y|ies)|whodunn?its?": "Mystery",
    r"fantasy|fantasies": "Fantasy",
    r"adventures?": "Adventure",
    r"kids?|kiddie|family|children'?s|disney": "Family",
    r"history|historical|period[- ]pieces?": "History",
}
_APOSTROPHE = "['’]?"
_NEGATIVE = (
    r"(?:do\s*n" + _APOSTROPHE + r"t|does\s*n" + _APOSTROPHE + r"t|did\s*n" + _APOSTROPHE + r"t|not|no|"
    r"nothing|never|none|nor|neither|hate[sd]?|hating|dislike[sd]?|can" + _APOSTROPHE + r"?t|cannot|"
    r"could\s*n"
    + _APOSTROPHE
    + r"t|won"
    + _APOSTROPHE
    + r"t|is\s*n"
    + _APOSTROPHE
    + r"t|are\s*n"
    + _APOSTROPHE
    + r"t|was\s*n"
    + _APOSTROPHE
    + r"t|avoid|without|except|rather|tired|sick|"
    r"scared|afraid|stay\s+away|steer\s+clear|nope|nah|ugh|less|least|against|skip|dont|cant|isnt|wont)"
)
_GENRE = "(?:" + "|".join(f"(?:{words})" for words in _GENRE_WORDS) + ")"
# A negative word, then at most five words (no sentence end), then a genre word ("I don't really like
# scary movies", "not into horror", "anything but a comedy"); or a genre word, then at most four words,
# then a negative verdict ("horror is not my thing", "comedies aren't for me").
# A list goes on ("not into rom-coms or horror"): the genres joined by "," "/" "or" "and" "nor" count too.
_LIST = rf"(?:\s*(?:,|/|&|\bor\b|\band\b|\bnor\b)\s*(?:(?:a|an|any|the)\s+)?{_GENRE}\b)*"
_NEGATIVE_THEN_GENRE = re.compile(
    rf"\b{_NEGATIVE}\b(?:[^.!?\w]+[\w'’@-]+){{0,5}}?[^.!?\w]+({_GENRE}\b{_LIST})", re.IGNORECASE
)
_GENRE_THEN_VERDICT = re.compile(
    rf"\b({_GENRE})\b(?:[^.!?\w]+[\w'’@-]+){{0,4}}?[^.!?\w]+"
    rf"(?:not|never|isn{_APOSTROPHE}t|aren{_APOSTROPHE}t|isnt|arent)"
    r"\s+(?:really\s+|very\s+|quite\s+|exactly\s+)?(?:my|for\s+me|a\s+fan|"
    r"something|what|into|big)\b",
    re.IGNORECASE,
)
_GENRE_WORD = re.compile(rf"\b{_GENRE}\b", re.IGNORECASE)
_GENRE_OF = [(re.compile(rf"^(?:{words})$", re.IGNORECASE), genre) for words, genre in _GENRE_WORDS.items()]


def genre_dislike_cues(text: str) -> tuple[str, ...]:
    """TMDB genres whose words sit near a negative word in `text` (in order, each once); () when none.

    Generous by design: it finds candidates to read, not labels ("no, I haven't seen that comedy" matches).
    """
    found: list[str] = []
    for pattern in (_NEGATIVE_THEN_GENRE, _GENRE_THEN_VERDICT):
        for match in pattern.finditer(text):
            for word in _GENRE_WORD.finditer(match.group(1)):
                found += [genre for regex, genre in _GENRE_OF if regex.match(re.sub(r"\s+", " ", word.group(0)))]
    return tuple(dict.fromkeys(found))


# -- mining ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelledMovie:
    """A catalogue movie named in an utterance with the seeker's questionnaire label (0 or 1)."""

    redial_id: str
    row: int  # catalogue row
    movie_id: int  # TMDB id
    liked: int  # 0 disliked, 1 liked


@dataclass(frozen=True)
class Utterance:
    """One seeker message: `text` written out for the stage; `movies` the labelled catalogue movies it
    names (the movie-mention kind when non-empty); `genre_cues` the genres the dislike pattern found
    (the genre-dislike kind when non-empty)."""

    conversation_id: int
    message_id: int
    text: str
    movies: tuple[LabelledMovie, ...] = ()
    genre_cues: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return (self.conversation_id, self.message_id)


@dataclass
class Mined:
    """`utterances`: every seeker message of either kind, in file order; `texts`: every seeker message's
    written-out text by (conversationId, messageId), so labels can be read whatever was mined;
    `skipped`: seeker mentions left out, by reason."""

    utterances: list[Utterance] = field(default_factory=list)
    texts: dict[Key, str] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    conversations: int = 0

    @property
    def mentions(self) -> list[Utterance]:
        return [u for u in self.utterances if u.movies]

    @property
    def genre_dislikes(self) -> list[Utterance]:
        return [u for u in self.utterances if u.genre_cues]


def mine(path: Path, movies: Sequence[Movie], progress: bool = False) -> Mined:
    """Seeker utterances that name a labelled catalogue movie or state a genre dislike (see the module)."""
    mapper = TitleMapper(list(movies))
    rows: dict[str, int | None] = {}
    out = Mined()
    for conversation in tqdm(list(read_conversations(path)), desc="mining", disable=not progress):
        out.conversations += 1
        mentions: dict[str, str] = conversation.get("movieMentions") or {}
        questions: dict[str, Any] = conversation.get("initiatorQuestions") or {}
        conversation_id = int(conversation["conversationId"])
        for message in conversation["messages"]:
            if message["senderWorkerId"] != conversation["initiatorWorkerId"]:
                continue
            key = (conversation_id, int(message["messageId"]))
            out.texts[key] = written_out(message["text"], mentions)
            labelled: list[LabelledMovie] = []
            for redial_id in dict.fromkeys(MENTION.findall(message["text"])):
                if redial_id not in rows:
                    rows[redial_id] = mapper.row(mentions[redial_id]) if mentions.get(redial_id) else None
                row = rows[redial_id]
                question = questions.get(redial_id)
                liked = question.get("liked") if isinstance(question, dict) else None
                if row is None:
                    out.skipped["movie not in the catalogue"] += 1
                elif liked not in (0, 1):
                    out.skipped["no questionnaire entry" if liked is None else "liked = 2 (did not say)"] += 1
                else:
                    labelled.append(LabelledMovie(redial_id, row, movies[row].movie_id, int(liked)))
            cues = genre_dislike_cues(message["text"])  # the raw text: a title's words are no genre cue
            if labelled or cues:
                out.utterances.append(Utterance(*key, out.texts[key], tuple(labelled), cues))
    return out


def draw_sample(
    mined: Mined, seed: int = SAMPLE_SEED, mentions: int = SAMPLE_MENTIONS, genres: int = SAMPLE_GENRES
) -> list[tuple[str, Utterance]]:
    """[(kind, utterance)]: `mentions` movie-mention utterances, then `genres` genre-dislike ones not
    already drawn, seeded; kind is "movie-mention" or "genre-dislike"."""
    rng = random.Random(seed)
    first = rng.sample(mined.mentions, min(mentions, len(mined.mentions)))
    drawn = {u.key for u in first}
    rest = [u for u in mined.genre_dislikes if u.key not in drawn]
    second = rng.sample(rest, min(genres, len(rest)))
    return [("movie-mention", u) for u in first] + [("genre-dislike", u) for u in second]


# -- labels ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    """The hand-read meaning of one seeker utterance: TMDB ids and TMDB genre names."""

    conversation_id: int
    message_id: int
    kind: str = ""
    liked_movies: tuple[int, ...] = ()
    disliked_movies: tuple[int, ...] = ()
    seen_movies: tuple[int, ...] = ()
    wanted_genres: tuple[str, ...] = ()
    excluded_genres: tuple[str, ...] = ()
    note: str = ""

    @property
    def key(self) -> Key:
        return (self.conversation_id, self.message_id)


def load_labels(path: Path = LABELS) -> list[Label]:
    """Every label of a .jsonl file in file order; ValueError naming a malformed line."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                Label(
                    int(row["conversationId"]),
                    int(row["messageId"]),
                    str(row.get("kind", "")),
                    liked_movies=tuple(int(i) for i in row.get("liked_movies", ())),
                    disliked_movies=tuple(int(i) for i in row.get("disliked_movies", ())),
                    seen_movies=tuple(int(i) for i in row.get("seen_movies", ())),
                    wanted_genres=tuple(str(g) for g in row.get("wanted_genres", ())),
                    excluded_genres=tuple(str(g) for g in row.get("excluded_genres", ())),
                    note=str(row.get("note", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path.name}, line {number}: {e}") from e
    return out


# -- reading and scoring --------------------------------------------------------------------------------
def read_all(understander: Understander, texts: Mapping[Key, str], progress: bool = False) -> dict[Key, Understood]:
    """The stage's reading of each text, by (conversationId, messageId)."""
    return {
        key: understander.understand(text)
        for key, text in tqdm(texts.items(), desc="understanding", disable=not progress)
    }


def _share(hits: int, n: int) -> dict[str, Any]:
    return {"n": n, "hits": hits, "share": hits / n if n else None}


def score_mined(mined: Mined, readings: Mapping[Key, Understood]) -> dict[str, Any]:
    """Automatic scores over every mined (utterance, movie, questionnaire label) and genre-dislike utterance.

    {"liked read as example": {n, hits, share}, ...} plus "failures": [{conversationId, messageId, movie_id,
    liked, read}] for the movie cases read wrongly (read: "example", "excluded", "both" or "neither").
    """
    liked = [(u, m) for u in mined.mentions for m in u.movies if m.liked == 1]
    disliked = [(u, m) for u in mined.mentions for m in u.movies if m.liked == 0]

    def read(u: Utterance, m: LabelledMovie) -> str:
        r = readings[u.key]
        example, excluded = m.row in r.examples, m.row in r.excluded_movies
        return "both" if example and excluded else "example" if example else "excluded" if excluded else "neither"

    genre_cases = [(u, g) for u in mined.genre_dislikes for g in u.genre_cues]
    out: dict[str, Any] = {
        "liked read as example": _share(sum(read(u, m) == "example" for u, m in liked), len(liked)),
        "liked among examples": _share(sum(read(u, m) in ("example", "both") for u, m in liked), len(liked)),
        "liked read as excluded": _share(sum(read(u, m) in ("excluded", "both") for u, m in liked), len(liked)),
        "disliked read as excluded": _share(
            sum(read(u, m) in ("excluded", "both") for u, m in disliked), len(disliked)
        ),
        "disliked not read as an example": _share(
            sum(read(u, m) in ("excluded", "neither") for u, m in disliked), len(disliked)
        ),
        "genre-dislike cue read as excluded genre": _share(
            sum(g in readings[u.key].excluded_genres for u, g in genre_cases), len(genre_cases)
        ),
        "genre-dislike cue read as wanted genre": _share(
            sum(g in readings[u.key].genres for u, g in genre_cases), len(genre_cases)
        ),
    }
    out["counts"] = {
        "conversations": mined.conversations,
        "movie-mention utterances": len(mined.mentions),
        "genre-dislike utterances": len(mined.genre_dislikes),
        "liked cases": len(liked),
        "disliked cases": len(disliked),
        "skipped mentions": dict(mined.skipped),
    }
    out["failures"] = [
        {
            "conversationId": u.conversation_id,
            "messageId": u.message_id,
            "movie_id": m.movie_id,
            "liked": m.liked,
            "read": read(u, m),
        }
        for u, m in liked + disliked
        if read(u, m) != ("example" if m.liked else "excluded")
    ]
    return out


def score_labels(
    labels: Sequence[Label], readings: Mapping[Key, Understood], movies: Sequence[Movie]
) -> dict[str, Any]:
    """The stage against hand labels, per category: {category: {n, hits, share}}; "stage exclusions that
    are labelled" gives the precision of what the stage excluded; "failures" lists each miss with the
    label's note: [{conversationId, messageId, kind, category, expected, read, note}].

    Categories: liked movie read as example (and not excluded), disliked movie read as excluded (strict)
    or not as an example (lenient), seen movie read as example (informative), wanted genre in genres,
    excluded genre in excluded_genres. Movie ids not in `movies` are counted under "labelled movies not
    in the catalogue" and not scored.
    """
    row_of = {m.movie_id: row for row, m in enumerate(movies)}
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    missing = 0
    excluded_movies_total = excluded_movies_labelled = 0
    excluded_genres_total = excluded_genres_labelled = 0
    for label in labels:
        r = readings[label.key]

        def count(category: str, ok: bool, expected: object, read: object, label: Label = label) -> None:
            totals[category] += 1
            hits[category] += ok
            if not ok:
                failures.append(
                    {
                        "conversationId": label.conversation_id,
                        "messageId": label.message_id,
                        "kind": label.kind,
                        "category": category,
                        "expected": expected,
                        "read": read,
                        "note": label.note,
                    }
                )

        def movie_reading(row: int) -> str:
            example, excluded = row in r.examples, row in r.excluded_movies  # noqa: B023
            return "both" if example and excluded else "example" if example else "excluded" if excluded else "neither"

        for category, ids in (
            ("liked", label.liked_movies),
            ("disliked", label.disliked_movies),
            ("seen", label.seen_movies),
        ):
            for movie_id in ids:
                row = row_of.get(movie_id)
                if row is None:
                    missing += 1
                    continue
                got = movie_reading(row)
                if category == "liked":
                    count("liked movie read as example", got == "example", movie_id, got)
                elif category == "disliked":
                    count("disliked movie read as excluded", got in ("excluded", "both"), movie_id, got)
                    count("disliked movie not read as an example", got in ("excluded", "neither"), movie_id, got)
                else:
                    count("seen movie read as example", got == "example", movie_id, got)
        for genre in label.wanted_genres:
            count(
                "wanted genre in genres",
                genre in r.genres and genre not in r.excluded_genres,
                genre,
                {"genres": list(r.genres), "excluded_genres": list(r.excluded_genres)},
            )
        for genre in label.excluded_genres:
            count(
                "excluded genre in excluded_genres",
                genre in r.excluded_genres,
                genre,
                {"genres": list(r.genres), "excluded_genres": list(r.excluded_genres)},
            )
        disliked_rows = {row_of.get(i) for i in label.disliked_movies}
        excluded_movies_total += len(r.excluded_movies)
        excluded_movies_labelled += sum(row in disliked_rows for row in r.excluded_movies)
        excluded_genres_total += len(r.excluded_genres)
        excluded_genres_labelled += sum(g in label.excluded_genres for g in r.excluded_genres)
    out: dict[str, Any] = {category: _share(hits[category], totals[category]) for category in CATEGORIES}
    out["stage's excluded movies that are labelled disliked"] = _share(excluded_movies_labelled, excluded_movies_total)
    out["stage's excluded genres that are labelled excluded"] = _share(excluded_genres_labelled, excluded_genres_total)
    out["counts"] = {
        "utterances": len(labels),
        "by kind": dict(Counter(label.kind for label in labels)),
        "with an excluded genre": sum(bool(label.excluded_genres) for label in labels),
        "labelled movies not in the catalogue": missing,
    }
    out["failures"] = failures
    return out


CATEGORIES = (
    "liked movie read as example",
    "disliked movie read as excluded",
    "disliked movie not read as an example",
    "seen movie read as example",
    "wanted genre in genres",
    "excluded genre in excluded_genres",
)
AUTOMATIC = (
    "liked read as example",
    "liked among examples",
    "liked read as excluded",
    "disliked read as excluded",
    "disliked not read as an example",
    "genre-dislike cue read as excluded genre",
    "genre-dislike cue read as wanted genre",
)


# -- the report -----------------------------------------------------------------------------------------
def _cell(value: dict[str, Any]) -> str:
    return "–" if value["share"] is None else f"{value['share']:.2f} ({value['hits']}/{value['n']})"


def _reading(read: object) -> str:
    return ", ".join(f"{k}: {v}" for k, v in read.items()) if isinstance(read, dict) else str(read)


def write_report(scores: dict[str, Any], out_dir: Path, label: str) -> Path:
    """reports/<label>.md, .json and .png from `scores` ({"automatic", "hand", "revision"}); ids only, no text
    of the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{label}.json").write_text(json.dumps(scores, indent=1) + "\n")
    auto, hand, revision = scores["automatic"], scores["hand"], scores["revision"]
    counts = auto["counts"]
    lines = [
        f"# The understanding stage on real ReDial phrasings ({label})",
        "",
        f"Measured at commit `{revision['commit']}`"
        + (
            " with uncommitted changes to `movierec/understanding.py`"
            if revision["understanding_dirty"]
            else " (`movierec/understanding.py` as committed)"
        )
        + f" (its sha256 begins `{revision['understanding_sha256']}`). Data: ReDial dev half "
        "(Li et al. 2018, CC BY 4.0); utterances are referred to by conversationId/messageId only.",
        "",
        "## Automatic: every mined seeker utterance, the seeker's questionnaire as the label",
        "",
        f"{counts['conversations']} conversations; {counts['movie-mention utterances']} seeker utterances "
        f"name a catalogue movie with a liked/disliked label ({counts['liked cases']} liked and "
        f"{counts['disliked cases']} disliked cases); {counts['genre-dislike utterances']} match the "
        "generous genre-dislike pattern. Mentions left out: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts["skipped mentions"].items()))
        + ".",
        "",
        "The questionnaire labels the movie, not the utterance: a question about a liked movie counts as a "
        "liked case. The genre-dislike rows only compare with the pattern's guess (no label).",
        "",
        "| measure | share (hits/n) |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_cell(auto[name])} |" for name in AUTOMATIC]
    hc = hand["counts"]
    lines += [
        "",
        "## Hand-checked sample",
        "",
        f"{hc['utterances']} utterances (seeded: "
        + ", ".join(f"{v} {k}" for k, v in hc["by kind"].items())
        + "), each read and labelled from its words before the stage's output was looked at "
        f"(`evaluation/redial_labels.jsonl`); {hc['with an excluded genre']} of them state an "
        f"excluded genre.",
        "",
        "| category | share (hits/n) |",
        "|---|---|",
    ]
    lines += [
        f"| {name} | {_cell(hand[name])} |"
        for name in (
            *CATEGORIES,
            "stage's excluded movies that are labelled disliked",
            "stage's excluded genres that are labelled excluded",
        )
    ]
    lines += [
        "",
        f"![shares]({label}.png)",
        "",
        "## Failures on the hand-checked sample, by construction",
        "",
        "| conversation / message | category | expected | read | construction (labeller's note) |",
        "|---|---|---|---|---|",
    ]
    for f in hand["failures"]:
        lines.append(
            f"| {f['conversationId']} / {f['messageId']} | {f['category']} | {f['expected']} | "
            f"{_reading(f['read'])} | {f['note']} |"
        )
    by_read = Counter((("liked" if f["liked"] else "disliked"), f["read"]) for f in auto["failures"])
    lines += ["", "## Automatic failures by how they were read", "", "| label | read as | cases |", "|---|---|---|"]
    lines += [f"| {k[0]} | {k[1]} | {v} |" for k, v in sorted(by_read.items())]
    (out_dir / f"{label}.md").write_text("\n".join(lines) + "\n")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    # Shares of correct readings only (the error rates and the informative "seen" row stay in the tables).
    bars = [
        ("auto", name, auto[name])
        for name in ("liked read as example", "disliked read as excluded", "disliked not read as an example")
    ] + [("hand", name, hand[name]) for name in CATEGORIES if name != "seen movie read as example"]
    values = [v["share"] or 0.0 for _, _, v in bars]
    colors = ["tab:blue" if kind == "auto" else "tab:orange" for kind, _, _ in bars]
    ax.bar(range(len(bars)), values, color=colors)
    for i, (_, _, v) in enumerate(bars):
        ax.text(i, values[i] + 0.02, f"{v['hits']}/{v['n']}", ha="center", fontsize=8)
    ax.set(
        xticks=range(len(bars)),
        ylim=(0, 1.1),
        ylabel="share read correctly",
        title=f"ReDial phrasings: automatic (blue, questionnaire) and hand-checked (orange) ({label})",
    )
    ax.set_xticklabels([name for _, name, _ in bars], rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / f"{label}.png", dpi=90)
    plt.close(fig)
    return out_dir / f"{label}.md"


def _revision() -> dict[str, Any]:
    """{commit, understanding_dirty, understanding_sha256}: the checkout measured (the file's hash tells the
    versions of an uncommitted understanding stage apart)."""
    import hashlib

    import movierec.understanding

    digest = hashlib.sha256(Path(movierec.understanding.__file__).read_bytes()).hexdigest()[:12]
    root = Path(__file__).resolve().parents[1]  # the checkout: evaluation/ is a top-level folder
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--short", "movierec/understanding.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "understanding_dirty": None, "understanding_sha256": digest}
    return {"commit": commit, "understanding_dirty": bool(dirty), "understanding_sha256": digest}


def main(argv: list[str] | None = None) -> int:
    """`python -m movierec.evaluation.redial_phrasings --index-dir DIR`: the stage on mined and hand-checked
    ReDial phrasings; `--print-sample` lists the sample to label (ids and text, to the terminal only)."""
    import argparse

    from movierec.artifact import load_artifact

    parser = argparse.ArgumentParser(prog="movierec-redial-phrasings", description=__doc__)
    parser.add_argument("--index-dir", type=Path, required=True, help="an index of the seed data")
    parser.add_argument("--conversations", type=Path, default=DEV, help=f"ReDial .jsonl (default {DEV})")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--label", default="redial-phrasings")
    parser.add_argument(
        "--print-sample",
        action="store_true",
        help="print the seeded sample to label (the terminal only, never a file) and stop",
    )
    args = parser.parse_args(argv)
    revision = _revision()  # before anything else: the stage may be edited while this runs
    movies = load_artifact(args.index_dir).movies
    mined = mine(args.conversations, movies, progress=True)
    if args.print_sample:
        for kind, u in draw_sample(mined):
            named = ", ".join(f"{m.movie_id}:{movies[m.row].title}:liked={m.liked}" for m in u.movies)
            print(f"{kind}\t{u.conversation_id}\t{u.message_id}\t{u.text}\t[{named}]\t{list(u.genre_cues)}")
        return 0
    labels = load_labels(args.labels)
    understander = Understander(movies)
    texts = {u.key: u.text for u in mined.utterances} | {label.key: mined.texts[label.key] for label in labels}
    readings = read_all(understander, texts, progress=True)
    scores = {
        "automatic": score_mined(mined, readings),
        "hand": score_labels(labels, readings, movies),
        "revision": revision,
    }
    path = write_report(scores, args.out, args.label)
    auto, hand = scores["automatic"], scores["hand"]
    print(
        f"{path}: automatic liked->example {_cell(auto['liked read as example'])}, disliked->excluded "
        f"{_cell(auto['disliked read as excluded'])}, disliked not example "
        f"{_cell(auto['disliked not read as an example'])}; hand: "
        + "; ".join(f"{c} {_cell(hand[c])}" for c in CATEGORIES)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
