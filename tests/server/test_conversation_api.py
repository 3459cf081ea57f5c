"""The conversation API over a real gRPC channel: a group talking it through, verdicts on named and
suggested movies, what was understood per turn, and precise statuses for bad conversations."""

from __future__ import annotations

import csv
import subprocess
import sys

import grpc
import pytest
from conftest import SAMPLE_DATA, call, sample_rated, status_of

from movierec.clients.client import ChatTurn, RecommenderClient, describe_understood
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow
SEEKER, RECOMMENDER = pb.Turn.SEEKER, pb.Turn.RECOMMENDER


def tmdb_id(title: str) -> int:
    with open(SAMPLE_DATA / "tmdb_5000_movies.csv", newline="") as f:
        return next(int(row["id"]) for row in csv.DictReader(f) if row["title"] == title)


def turn(role: int, text: str, user_id: int | None = None) -> pb.Turn:
    out = pb.Turn(role=role, text=text)  # type: ignore[arg-type]
    if user_id is not None:
        out.user_id = user_id
    return out


def test_a_three_person_group_conversation(sample_channel: grpc.Channel) -> None:
    conversation = [
        turn(SEEKER, "something funny tonight", 1),
        turn(SEEKER, "nothing scary for me please", 2),
        turn(SEEKER, "I loved Knives Out (2019)", 3),
    ]
    reply = call(sample_channel, conversation=conversation, limit=8)
    assert len(reply.movies) == 8 and reply.group_strategy
    genres = {m.movie_id: set(m.genres) for m in reply.movies}
    assert not any("Horror" in g for g in genres.values())  # Bob's exclusion binds the list
    assert all(sorted(m.member_fit) == [1, 2, 3] for m in reply.movies)  # each member's fit
    rated = sample_rated(1) | sample_rated(2) | sample_rated(3)
    assert not set(genres) & rated and tmdb_id("Knives Out") not in genres
    u = reply.understood
    assert "Horror" in u.excluded_genres and dict((c.what, c.turn) for c in u.constraint_turns)["not Horror"] == 1
    assert [(n.movie.title, n.reading, n.turn) for n in u.named_movies] == [("Knives Out", "liked", 2)]


def test_liked_disliked_seen_and_suggested_are_read_and_left_out(sample_channel: grpc.Channel) -> None:
    conversation = [
        turn(SEEKER, "a tense thriller"),
        turn(SEEKER, "I loved Gone Girl (2014) but I hated Se7en (1995)"),
        turn(RECOMMENDER, "Have you seen Zodiac (2007)?"),
        turn(SEEKER, "seen it"),
        turn(RECOMMENDER, "What about Memento (2000)?"),
    ]
    reply = call(sample_channel, conversation=conversation, limit=10)
    readings = {n.movie.title: n.reading for n in reply.understood.named_movies}
    assert readings == {"Gone Girl": "liked", "Se7en": "disliked", "Zodiac": "seen", "Memento": "suggested"}
    returned = {m.movie_id for m in reply.movies}
    assert not returned & {tmdb_id(t) for t in readings}
    # include_rated brings back what was named, except the disliked movie.
    again = call(sample_channel, conversation=conversation, limit=30, include_rated=True)
    returned = {m.movie_id for m in again.movies}
    assert tmdb_id("Se7en") not in returned and returned & {tmdb_id("Zodiac"), tmdb_id("Memento")}


def test_a_disliked_movie_pushes_its_neighbours_down(sample_channel: grpc.Channel) -> None:
    base = [turn(SEEKER, "a space movie")]
    before = [m.movie_id for m in call(sample_channel, conversation=base, limit=20).movies]
    after = [
        m.movie_id
        for m in call(
            sample_channel, conversation=[*base, turn(SEEKER, "not Interstellar (2014), I hated it")], limit=20
        ).movies
    ]
    assert tmdb_id("Interstellar") not in after and before != after


def test_the_prompt_is_the_last_seeker_turn(sample_channel: grpc.Channel) -> None:
    conversation = [turn(SEEKER, "a comedy")]
    with_prompt = call(sample_channel, conversation=conversation, prompt="actually, no, a horror movie", limit=5)
    as_turn = call(sample_channel, conversation=[*conversation, turn(SEEKER, "actually, no, a horror movie")], limit=5)
    assert [m.movie_id for m in with_prompt.movies] == [m.movie_id for m in as_turn.movies]
    assert list(with_prompt.understood.genres) == ["Horror"]
    assert all("Horror" in m.genres for m in with_prompt.movies)


def test_the_client_sends_a_conversation(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    with RecommenderClient(f"127.0.0.1:{port}") as client:
        result = client.recommend(
            conversation=[
                ChatTurn("seeker", "a cartoon for the kids"),
                ChatTurn("recommender", "Shrek (2001)?"),
                ChatTurn("seeker", "seen it"),
            ],
            limit=5,
        )
        with pytest.raises(ValueError, match="'seeker' or 'recommender'"):
            client.recommend(conversation=[ChatTurn("bot", "hi")])
    assert result.movies and "Shrek (2001) seen [turn 2]" in describe_understood(result.understood)


@pytest.mark.parametrize(
    "fields, code, words",
    [
        ({"conversation": [turn(SEEKER, "hi")] * 51}, grpc.StatusCode.INVALID_ARGUMENT, ["51 turns", "50"]),
        ({"conversation": [turn(SEEKER, "x" * 1001)]}, grpc.StatusCode.INVALID_ARGUMENT, ["turn 0", "1001", "1000"]),
        ({"conversation": [turn(SEEKER, "x" * 900)] * 23}, grpc.StatusCode.INVALID_ARGUMENT, ["20700", "20000"]),
        (
            {"conversation": [turn(SEEKER, "a comedy"), turn(SEEKER, "  ")]},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["turn 1", "empty"],
        ),
        ({"conversation": [pb.Turn(text="a comedy")]}, grpc.StatusCode.INVALID_ARGUMENT, ["turn 0", "role"]),
        ({"conversation": [turn(RECOMMENDER, "Shrek?", 1)]}, grpc.StatusCode.INVALID_ARGUMENT, ["turn 0", "user_id"]),
        ({"conversation": [turn(RECOMMENDER, "Shrek?")]}, grpc.StatusCode.INVALID_ARGUMENT, ["no SEEKER turn"]),
        (
            {"conversation": [turn(SEEKER, "a comedy", 1), turn(SEEKER, "me too", 987654321)]},
            grpc.StatusCode.NOT_FOUND,
            ["turn 1", "987654321"],
        ),
    ],
)
def test_bad_conversations_get_precise_statuses(
    sample_channel: grpc.Channel, fields: dict, code: grpc.StatusCode, words: list[str]
) -> None:
    user = pb_grpc.RecommenderStub(sample_channel).GetUser(pb.GetUserRequest(user_id=1), timeout=30)
    got, message = status_of(sample_channel, **fields)
    assert got == code and all(w in message for w in words), message
    # Nothing was written: the speaker's history is as it was.
    assert pb_grpc.RecommenderStub(sample_channel).GetUser(pb.GetUserRequest(user_id=1), timeout=30) == user


def test_movierec_chat_in_another_process(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    lines = "\n".join(
        [
            "1: something funny",
            "2: nothing scary for me",
            "/seen 1",
            "/no 99",
            "/like 2",
            "3: " + "x" * 1001,
            "/quit",
            "never read",
        ]
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.clients.cli",
            "--target",
            f"127.0.0.1:{port}",
            "chat",
            "--group",
            "1,2,3",
            "--limit",
            "5",
        ],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("understood:") == 4  # four turns answered; the bad number and the long turn were not
    assert "not Horror" in out and "[turn 1]" in out and " seen [turn 3]" in out and " liked [turn 5]" in out
    assert "takes the number of a movie in the list shown (1-5)" in out
    assert "INVALID_ARGUMENT" in out and "1001 characters" in out
    assert all(f"fit {u}" in out for u in (1, 2, 3))


def test_a_person_named_in_passing_earlier_gives_way_when_the_list_is_short(sample_channel: grpc.Channel) -> None:
    conversation = [turn(SEEKER, "we loved Tom Hanks in Forrest Gump (1994)"), turn(SEEKER, "now a thriller")]
    reply = call(sample_channel, conversation=conversation, limit=10)
    assert len(reply.movies) == 10
    with_him = [m for m in reply.movies if not m.unmet]
    assert all("Thriller" in m.genres for m in reply.movies)
    assert [m.unmet for m in reply.movies[len(with_him) :]] == [["people"]] * (10 - len(with_him))
    # Named in the last turn, he holds.
    last = call(sample_channel, conversation=[turn(SEEKER, "now a thriller with Tom Hanks")], limit=10)
    assert last.movies and all("people" not in m.unmet for m in last.movies)


def test_a_long_chat_sends_its_newest_turns() -> None:
    from movierec.clients.cli import MAX_CONVERSATION_CHARS, MAX_TURNS, newest_turns

    turns = [ChatTurn("seeker", f"turn {i}") for i in range(120)]
    kept = newest_turns(turns)
    assert len(kept) == MAX_TURNS and kept[-1] is turns[-1] and kept[0] is turns[120 - MAX_TURNS]
    long = [ChatTurn("seeker", "x" * 900) for _ in range(40)]
    kept = newest_turns(long)
    assert sum(len(t.text) for t in kept) <= MAX_CONVERSATION_CHARS < sum(len(t.text) for t in kept) + 900
    assert kept[-1] is long[-1]


def test_a_chat_survives_odd_lines_and_reacts_by_id(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    lines = "\n".join(["a thriller", "/seen ²", "²: hi", "/no 1", *(["/seen 1"] * 30), "still a thriller"])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.clients.cli",
            "--target",
            f"127.0.0.1:{port}",
            "chat",
            "--group",
            "1,2",
            "--limit",
            "3",
        ],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "takes the number of a movie" in done.stdout and "Traceback" not in done.stderr
    # every line after the odd ones was answered, past the API's 50 turns (each reaction adds two)
    assert done.stdout.count("understood:") == 1 + 1 + 1 + 30 + 1
    assert "INVALID_ARGUMENT" not in done.stdout
