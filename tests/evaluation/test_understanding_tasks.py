"""The conversation loader and the constraint checks, on synthetic conversations over the sample catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE_DATA

from movierec.domain import Movie
from movierec.evaluation.constraint_requests import KINDS
from movierec.evaluation.conversations import Conversations, TitleMapper, halves, load_conversations
from movierec.evaluation.understanding_tasks import satisfies
from movierec.indexer.catalogue import load_catalogue
from movierec.understanding import normalise


@pytest.fixture(scope="module")
def movies() -> list[Movie]:
    return [
        e.movie
        for e in load_catalogue(SAMPLE_DATA / "tmdb_5000_movies.csv", SAMPLE_DATA / "tmdb_5000_credits.csv").entries
    ]


def row(movies: list[Movie], title: str) -> int:
    return next(i for i, m in enumerate(movies) if m.title == title)


def test_titles_map_by_title_and_year_within_one(movies: list[Movie]) -> None:
    mapper = TitleMapper(movies)
    assert mapper.row("Die Hard (1988)") == row(movies, "Die Hard")
    assert mapper.row("Die Hard (1989)") == row(movies, "Die Hard")
    assert mapper.row("Die Hard (1991)") is None
    assert mapper.row("The Matrix  (1999)") == row(movies, "The Matrix")
    assert mapper.row("Not A Movie Here (2001)") is None


def test_a_request_is_what_the_seeker_wrote_before_the_first_suggestion(tmp_path: Path, movies: list[Movie]) -> None:
    conversation = {
        "conversationId": "1",
        "initiatorWorkerId": 1,
        "respondentWorkerId": 2,
        "movieMentions": {"10": "Die Hard (1988)", "11": "Speed (1994)", "12": "Heat (1995)", "13": "Unknown (2030)"},
        "respondentQuestions": {
            "10": {"suggested": 1},
            "11": {"suggested": 1},
            "12": {"suggested": 0},
            "13": {"suggested": 1},
        },
        "messages": [
            {"senderWorkerId": 2, "text": "hi, what do you like?"},
            {"senderWorkerId": 1, "text": "I loved @12 and action films"},
            {"senderWorkerId": 1, "text": "anything like that"},
            {"senderWorkerId": 2, "text": "try @11"},
            {"senderWorkerId": 1, "text": "seen @10 already"},  # after the first suggestion: not in the request
        ],
    }
    empty = dict(conversation, messages=[{"senderWorkerId": 2, "text": "try @11"}])
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(conversation) + "\n\n" + json.dumps(empty) + "\n")
    loaded = load_conversations(path, movies)
    assert loaded.requests == ["I loved Heat (1995) and action films anything like that"]
    # Die Hard was suggested but the seeker named it too; Unknown is not in the catalogue.
    assert loaded.relevant == [{row(movies, "Speed")}]
    assert loaded.named == [[row(movies, "Heat")]]
    assert sum(loaded.skipped.values()) == 1 and loaded.unmapped_titles == 1
    assert loaded.ids == [1]


def test_halves_split_by_id_alone_into_disjoint_complete_parts() -> None:
    talks = Conversations(
        requests=[f"text {i}" for i in range(7)],
        relevant=[{i} for i in range(7)],
        named=[[i] for i in range(7)],
        ids=[20, 3, 8, 15, 4, 11, 6],
    )
    tuning, test = halves(talks)
    assert tuning.ids == [20, 8, 4, 6] and test.ids == [3, 15, 11]
    for part in (tuning, test):  # each request keeps its own answers
        assert [int(t.split()[1]) for t in part.requests] == [next(iter(r)) for r in part.relevant]
        assert [n[0] for n in part.named] == [next(iter(r)) for r in part.relevant]
    assert sorted(tuning.requests + test.requests) == sorted(talks.requests)


def test_checks_read_the_catalogue(movies: list[Movie]) -> None:
    titles = {normalise(m.title): [i] for i, m in enumerate(movies)}
    die_hard = movies[row(movies, "Die Hard")]
    assert satisfies(die_hard, 0, {"person": "Bruce Willis"}, titles, movies)
    assert not satisfies(die_hard, 0, {"exclude_genres": ["Action"]}, titles, movies)
    assert satisfies(die_hard, 0, {"year_min": 1980, "year_max": 1989, "genre": "Action"}, titles, movies)
    assert not satisfies(die_hard, 0, {"runtime_max": 120}, titles, movies)
    speed = row(movies, "Speed")
    assert satisfies(movies[speed], speed, {"like": "Die Hard"}, titles, movies)
    assert not satisfies(die_hard, row(movies, "Die Hard"), {"like": "Die Hard"}, titles, movies)


def test_the_constraint_set_has_six_kinds_and_at_least_150_requests() -> None:
    assert len(KINDS) >= 6 and sum(len(v) for v in KINDS.values()) >= 150
    texts = [prompt for requests in KINDS.values() for prompt, _ in requests]
    assert len(set(texts)) == len(texts)
