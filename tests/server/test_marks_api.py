"""Seen and not-interested marks over a real gRPC channel: they leave the user's and the group's lists
at once, are visible in GetUser, can be taken back, are idempotent, and bad ones get precise statuses;
and a request can drop a constraint it was understood to ask for."""

from __future__ import annotations

import grpc
import pytest
from conftest import code_of

from movierec.clients.client import RecommenderClient
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb

pytestmark = pytest.mark.slow


def ids(client: RecommenderClient, **fields: object) -> list[int]:
    return [m.movie_id for m in client.recommend(**fields).movies]  # type: ignore[arg-type]


def test_a_seen_movie_leaves_the_list_at_once_and_returns_on_undo(served: tuple[RecommenderClient, Settings]) -> None:
    client, _ = served
    first, second = ids(client, prompt="a funny adventure", user_id=1, limit=5)[:2]
    client.mark(1, first, "seen")
    after = ids(client, prompt="a funny adventure", user_id=1, limit=5)
    assert first not in after and after[0] == second
    assert first in ids(client, prompt="a funny adventure", user_id=1, limit=5, include_rated=True)  # a rewatch
    described = client.user(1)
    assert described.seen == [first] and described.not_interested == []
    assert described.ratings == client.user(1, 1000).ratings and first not in [r.movie_id for r in described.recent]
    client.mark(1, first, "seen", undo=True)
    assert ids(client, prompt="a funny adventure", user_id=1, limit=5)[0] == first
    assert client.user(1).seen == []


def test_not_interested_holds_even_with_include_rated_and_binds_a_group(
    served: tuple[RecommenderClient, Settings],
) -> None:
    client, _ = served
    prompt = "a heartwarming family film"
    group = ids(client, prompt=prompt, user_id=1, group_user_ids=[2], limit=5)
    client.mark(2, group[0], "not_interested")
    assert group[0] not in ids(client, prompt=prompt, user_id=1, group_user_ids=[2], limit=5)
    assert group[0] not in ids(client, prompt=prompt, user_id=2, limit=100, include_rated=True)
    assert group[0] in ids(client, prompt=prompt, user_id=1, limit=100)  # only user 2's mark, and their groups
    assert client.user(2).not_interested == [group[0]]


def test_a_user_known_only_by_a_mark_is_a_user(served: tuple[RecommenderClient, Settings]) -> None:
    client, _ = served
    newcomer = 990_777
    assert code_of(client.user, newcomer)[0] == grpc.StatusCode.NOT_FOUND
    top = ids(client, prompt="a space adventure", limit=3)
    ack = client.mark(newcomer, top[0], "seen")
    assert ack.ratings == 0 and not ack.duplicate
    assert client.user(newcomer).seen == [top[0]] and client.user(newcomer).ratings == 0
    assert top[0] not in ids(client, prompt="a space adventure", user_id=newcomer, limit=3)


def test_a_retried_mark_is_stored_once(served: tuple[RecommenderClient, Settings]) -> None:
    client, settings = served
    first = client.mark(3, 862, "seen", request_id="mark-once")
    again = client.mark(3, 862, "seen", request_id="mark-once")
    assert not first.duplicate and again.duplicate and again.timestamp == first.timestamp
    code, details = code_of(client.mark, 3, 862, "not_interested", request_id="mark-once")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "already used for user 3, movie 862, seen" in details
    import sqlite3

    with sqlite3.connect(settings.index.index_dir / "feedback.sqlite") as db:
        assert db.execute("SELECT COUNT(*), MIN(kind) FROM feedback WHERE request_id = 'mark-once'").fetchone() == (
            1,
            "seen",
        )


@pytest.mark.parametrize(
    "fields, words",
    [
        (dict(kind=pb.SEEN, rating=4.0), "a SEEN mark carries no rating"),
        (dict(kind=pb.NOT_INTERESTED, rating=0.5), "a NOT_INTERESTED mark carries no rating"),
        (dict(kind=pb.RATING, rating=4.0, undo=True), "undo takes back a SEEN or NOT_INTERESTED mark"),
        (dict(kind=7), "kind must be one of RATING, SEEN, NOT_INTERESTED; got 'number 7'"),
        (dict(kind=pb.SEEN, user_id=0), "user_id must be a positive number"),
    ],
)
def test_bad_marks_get_invalid_argument(served: tuple[RecommenderClient, Settings], fields: dict, words: str) -> None:
    client, _ = served
    request = pb.FeedbackRequest(**{"user_id": 1, "movie_id": 862, "request_id": "bad", **fields})
    with pytest.raises(grpc.RpcError) as e:
        client._stub.RecordFeedback(request, timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in e.value.details()
    assert code_of(client.mark, 1, 424242424, "seen")[0] == grpc.StatusCode.NOT_FOUND


def test_a_dropped_constraint_is_left_out_and_the_others_hold(served: tuple[RecommenderClient, Settings]) -> None:
    client, _ = served
    prompt = "an animated movie from the 1990s, nothing scary"
    asked = client.recommend(prompt, limit=10)
    constraints = list(asked.understood.constraints)
    assert "Animation" in constraints and "1990-1999" in constraints
    dropped = client.recommend(prompt, limit=10, dropped=["1990-1999"])
    assert "1990-1999" not in dropped.understood.constraints
    assert [c for c in dropped.understood.constraints] == [c for c in constraints if c != "1990-1999"]
    assert not dropped.understood.HasField("year_min") and not dropped.understood.HasField("year_max")
    assert any(not 1990 <= m.year <= 1999 for m in dropped.movies)  # the years no longer bind
    assert all("Animation" in m.genres for m in dropped.movies)  # the rest still does
    assert client.recommend(prompt, limit=10, dropped=["Western"]).understood.constraints == constraints
    with pytest.raises(grpc.RpcError) as e:
        client.recommend(prompt, dropped=["x" * 201])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "dropped[0] is 201 characters" in e.value.details()


def test_marks_the_store_could_not_give_at_a_swap_come_back_once_it_answers(
    tmp_path, sample_settings: Settings, encoder, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """A new index version is loaded while the store cannot be read: its marks are missing for that while,
    then loaded by the index watcher (here with the store follower off) as soon as the store answers."""
    import shutil
    import time

    from movierec.diagnostics import Unavailable
    from movierec.indexer.build import build_index
    from movierec.server.app import create_server
    from movierec.store import SqliteRatingsStore

    index_dir = tmp_path / "index"
    shutil.copytree(sample_settings.index.index_dir, index_dir, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    settings = sample_settings.replace(index_dir=index_dir, reload_interval_s=0.1, store_poll_interval_s=0)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    client = RecommenderClient(f"127.0.0.1:{port}")
    try:
        assert client.wait_until_serving(30)
        unwanted = ids(client, prompt="a space adventure", user_id=4, limit=3)[0]
        client.mark(4, unwanted, "not_interested")
        readable = {"now": False}
        marks = SqliteRatingsStore.marks

        def flaky(self: SqliteRatingsStore, through_seq: int) -> list:
            if not readable["now"]:
                raise Unavailable("the ratings store cannot be read (a test)")
            return marks(self, through_seq)

        monkeypatch.setattr(SqliteRatingsStore, "marks", flaky)
        before = client.index_info().index_version
        build_index(settings, encoder=encoder, progress=False)  # the new version's store_seq covers the mark
        deadline = time.monotonic() + 30
        while client.index_info().index_version == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.index_info().index_version != before
        assert client.user(4).not_interested == []  # missing while the store cannot give them
        readable["now"] = True
        deadline = time.monotonic() + 10
        while client.user(4).not_interested != [unwanted] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.user(4).not_interested == [unwanted]
        assert unwanted not in ids(client, prompt="a space adventure", user_id=4, limit=3)
    finally:
        client.close()
        server.stop(None)


def test_a_request_naming_many_unknown_movies_gets_a_short_message(served: tuple[RecommenderClient, Settings]) -> None:
    client, _ = served
    with pytest.raises(grpc.RpcError) as e:
        client.recommend("a comedy", excluded_movie_ids=list(range(900_000_000, 900_060_000)))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details().endswith("and 59990 more not in the catalogue") and len(e.value.details()) < 300
