"""ReDial phrasings, on a made-up conversation: mining, `@<id>` written out, scoring against labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from movierec.domain import Movie
from movierec.evaluation.redial_phrasings import (
    LABELS,
    Label,
    draw_sample,
    genre_dislike_cues,
    load_labels,
    mine,
    score_labels,
    score_mined,
    written_out,
)
from movierec.understanding import Understood

MOVIES = [
    Movie(movie_id=501, title="Alpha Quest", year=2001, genres=("Adventure",)),
    Movie(movie_id=502, title="Beta Night", year=1999, genres=("Horror",)),
    Movie(movie_id=503, title="Gamma Days", year=2010, genres=("Drama",)),
    Movie(movie_id=504, title="Why Not Delta?", year=1991, genres=("Comedy",)),
]
SEEKER, HELPER = 7, 8


def _conversation(tmp_path: Path) -> Path:
    messages = [
        (SEEKER, 1, "hi there"),
        (SEEKER, 2, "I loved @11 but I hated @12  a lot"),
        (HELPER, 3, "have you seen @11 or @13?"),
        (SEEKER, 4, "never seen @13, and @14 is not a real one"),
        (SEEKER, 5, "I don't really like horror movies"),
        (SEEKER, 6, "maybe @15 then"),
    ]
    conversation = {
        "conversationId": 900,
        "initiatorWorkerId": SEEKER,
        "respondentWorkerId": HELPER,
        "movieMentions": {
            "11": "Alpha Quest (2001)",
            "12": "Beta  Night (1999)",
            "13": "Gamma Days (2010)",
            "14": "Not In The Catalogue (1950)",
            "15": "Why Not Delta%3F (1991)",
        },
        "initiatorQuestions": {
            "11": {"suggested": 0, "seen": 1, "liked": 1},
            "12": {"suggested": 0, "seen": 1, "liked": 0},
            "13": {"suggested": 1, "seen": 0, "liked": 2},
            "14": {"suggested": 0, "seen": 1, "liked": 1},
        },
        "respondentQuestions": {},
        "messages": [{"senderWorkerId": s, "messageId": m, "text": t, "timeOffset": 0} for s, m, t in messages],
    }
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(conversation) + "\n\n")
    return path


def test_mining_keeps_seeker_utterances_with_a_labelled_catalogue_movie_or_a_genre_dislike(tmp_path: Path) -> None:
    mined = mine(_conversation(tmp_path), MOVIES)
    assert mined.conversations == 1
    assert [u.key for u in mined.utterances] == [(900, 2), (900, 5)]
    mention, genre = mined.utterances
    assert [(m.movie_id, m.row, m.liked) for m in mention.movies] == [(501, 0, 1), (502, 1, 0)]
    assert mention.text == "I loved Alpha Quest (2001) but I hated Beta Night (1999)  a lot"
    assert mention.genre_cues == () and genre.movies == () and genre.genre_cues == ("Horror",)
    assert mined.mentions == [mention] and mined.genre_dislikes == [genre]
    # @13 has liked = 2, @14 is not in the catalogue, @15 has no questionnaire entry; the helper is ignored.
    assert mined.skipped == {"liked = 2 (did not say)": 1, "movie not in the catalogue": 1, "no questionnaire entry": 1}
    assert set(mined.texts) == {(900, m) for m in (1, 2, 4, 5, 6)}
    assert mined.texts[(900, 6)] == "maybe Why Not Delta? (1991) then"
    assert [(kind, u.key) for kind, u in draw_sample(mined)] == [
        ("movie-mention", (900, 2)),
        ("genre-dislike", (900, 5)),
    ]


def test_written_out_uses_the_mention_title_with_its_year() -> None:
    mentions = {"1": "Some Film  (1984)", "2": "No Year "}
    assert written_out("like @1 and @2, not @3!", mentions) == "like Some Film (1984) and No Year, not !"


@pytest.mark.parametrize(
    "text, genres",
    [
        ("I don't really like scary movies", ("Horror",)),
        ("not into rom-coms or horror", ("Romance", "Horror")),
        ("I can’t stand musicals", ("Music",)),
        ("westerns are not my thing", ("Western",)),
        ("anything except a comedy please", ("Comedy",)),
        ("I love horror", ()),
        ("No. I want a comedy", ()),  # a sentence ends between them
        ("no @123 war", ("War",)),
    ],
)
def test_the_genre_dislike_pattern(text: str, genres: tuple[str, ...]) -> None:
    assert genre_dislike_cues(text) == genres


def test_automatic_scores_follow_the_questionnaire(tmp_path: Path) -> None:
    mined = mine(_conversation(tmp_path), MOVIES)
    readings = {(900, 2): Understood(examples=(0, 1)), (900, 5): Understood(genres=("Horror",))}
    scores = score_mined(mined, readings)
    assert scores["liked read as example"] == {"n": 1, "hits": 1, "share": 1.0}
    assert scores["disliked read as excluded"] == {"n": 1, "hits": 0, "share": 0.0}
    assert scores["disliked not read as an example"]["hits"] == 0
    assert scores["genre-dislike cue read as excluded genre"]["hits"] == 0
    assert scores["genre-dislike cue read as wanted genre"]["hits"] == 1
    assert scores["failures"] == [
        {"conversationId": 900, "messageId": 2, "movie_id": 502, "liked": 0, "read": "example"}
    ]
    lenient = score_mined(mined, {**readings, (900, 2): Understood(examples=(0,))})
    assert lenient["disliked read as excluded"]["hits"] == 0
    assert lenient["disliked not read as an example"]["share"] == 1.0
    strict = score_mined(mined, {**readings, (900, 2): Understood(examples=(0,), excluded_movies=(0, 1))})
    assert strict["disliked read as excluded"]["share"] == 1.0
    assert strict["liked read as example"]["hits"] == 0 and strict["liked among examples"]["hits"] == 1
    assert strict["liked read as excluded"]["hits"] == 1


def test_scoring_against_labels(tmp_path: Path) -> None:
    rows = [
        {
            "conversationId": 900,
            "messageId": 2,
            "kind": "movie-mention",
            "liked_movies": [501],
            "disliked_movies": [502],
            "seen_movies": [],
            "wanted_genres": ["Adventure"],
            "excluded_genres": [],
            "note": "dislike after 'but'",
        },
        {
            "conversationId": 900,
            "messageId": 5,
            "kind": "genre-dislike",
            "liked_movies": [999],
            "excluded_genres": ["Horror"],
            "note": "plain dislike",
        },
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels = load_labels(path)
    assert labels[0] == Label(900, 2, "movie-mention", (501,), (502,), (), ("Adventure",), (), "dislike after 'but'")
    readings = {
        (900, 2): Understood(examples=(0,), excluded_movies=(1,), excluded_genres=("Adventure",)),
        (900, 5): Understood(excluded_genres=("Horror", "Drama")),
    }
    scores = score_labels(labels, readings, MOVIES)
    assert scores["liked movie read as example"] == {"n": 1, "hits": 1, "share": 1.0}
    assert scores["disliked movie read as excluded"]["share"] == 1.0
    assert scores["disliked movie not read as an example"]["share"] == 1.0
    assert scores["seen movie read as example"]["n"] == 0 and scores["seen movie read as example"]["share"] is None
    assert scores["wanted genre in genres"] == {"n": 1, "hits": 0, "share": 0.0}  # read as excluded instead
    assert scores["excluded genre in excluded_genres"] == {"n": 1, "hits": 1, "share": 1.0}
    assert scores["stage's excluded genres that are labelled excluded"] == {"n": 3, "hits": 1, "share": 1 / 3}
    assert scores["stage's excluded movies that are labelled disliked"]["share"] == 1.0
    assert scores["counts"]["labelled movies not in the catalogue"] == 1
    assert [(f["messageId"], f["category"], f["note"]) for f in scores["failures"]] == [
        (2, "wanted genre in genres", "dislike after 'but'")
    ]


def test_a_malformed_label_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text(json.dumps({"messageId": 1}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl, line 1"):
        load_labels(tmp_path / "bad.jsonl")


def test_the_shipped_labels_hold_only_references_and_labels() -> None:
    allowed = {
        "conversationId",
        "messageId",
        "kind",
        "liked_movies",
        "disliked_movies",
        "seen_movies",
        "wanted_genres",
        "excluded_genres",
        "note",
    }
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 60 and len({(r["conversationId"], r["messageId"]) for r in rows}) == 60
    assert all(set(r) <= allowed and len(r.get("note", "")) <= 200 for r in rows)
    assert {r["kind"] for r in rows} == {"movie-mention", "genre-dislike"}
    assert len(load_labels()) == 60
