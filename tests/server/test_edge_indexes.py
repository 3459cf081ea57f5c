"""Every RPC, through a real server, against each edge an index can have: no valid request is INTERNAL.

The edges are built by the real indexer from small files cut out of the bundled sample: a
catalogue with no ratings (header only), ratings from one user only, a catalogue of one movie,
and a user who has rated every movie. Each RPC is called with the requests a client may send;
every answer must be OK or the documented status for that request, never INTERNAL or UNKNOWN.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pandas as pd
import pytest
from conftest import SAMPLE_DATA, wait_serving

from movierec.embedding import Encoder
from movierec.indexer.build import build_index
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow

MOVIES = pd.read_csv(SAMPLE_DATA / "tmdb_5000_movies.csv", dtype=str, keep_default_na=False)
CREDITS = pd.read_csv(SAMPLE_DATA / "tmdb_5000_credits.csv", dtype=str, keep_default_na=False)
LINKS = pd.read_csv(SAMPLE_DATA / "links.csv", dtype=str, keep_default_na=False)
RATINGS = pd.read_csv(SAMPLE_DATA / "ratings.csv")
NEW_USER = 990_001


def write_data(folder: Path, movie_ids: list[str], ratings: pd.DataFrame) -> Path:
    """A data folder with the sample's rows for `movie_ids` and these ratings (MovieLens ids)."""
    folder.mkdir(parents=True)
    MOVIES[MOVIES["id"].isin(movie_ids)].to_csv(folder / "tmdb_5000_movies.csv", index=False)
    CREDITS[CREDITS["movie_id"].isin(movie_ids)].to_csv(folder / "tmdb_5000_credits.csv", index=False)
    LINKS[LINKS["tmdbId"].isin(movie_ids)].to_csv(folder / "links.csv", index=False)
    ratings.to_csv(folder / "ratings.csv", index=False)
    return folder


def movielens_id(tmdb_id: str) -> int:
    return int(LINKS.loc[LINKS["tmdbId"] == tmdb_id, "movieId"].iloc[0])


def empty_ratings(folder: Path) -> Path:
    return write_data(folder, MOVIES["id"].tolist(), RATINGS.iloc[:0])


def one_user(folder: Path) -> Path:
    return write_data(folder, MOVIES["id"].tolist(), RATINGS[RATINGS["userId"] == RATINGS["userId"].iloc[0]])


def one_movie(folder: Path) -> Path:
    only = MOVIES["id"].iloc[0]
    return write_data(folder, [only], RATINGS[RATINGS["movieId"] == movielens_id(only)])


def all_rated(folder: Path) -> Path:
    """Five movies; the first user rated all of them, two others rated some."""
    ids = MOVIES["id"].iloc[:5].tolist()
    rows = [(1, movielens_id(m), 4.0 - i / 2, 1_600_000_000 + i) for i, m in enumerate(ids)]
    rows += [
        (2, movielens_id(ids[0]), 5.0, 1_600_000_100),
        (2, movielens_id(ids[3]), 2.0, 1_600_000_101),
        (3, movielens_id(ids[1]), 3.5, 1_600_000_200),
    ]
    return write_data(folder, ids, pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]))


EDGES: dict[str, Callable[[Path], Path]] = {
    "empty ratings": empty_ratings,
    "one user": one_user,
    "one movie": one_movie,
    "every movie rated": all_rated,
}


@pytest.fixture(scope="module", params=sorted(EDGES))
def edge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[tuple[str, pb_grpc.RecommenderStub, Settings]]:
    from movierec.server.app import create_server

    root = tmp_path_factory.mktemp("edge")
    settings = Settings(data_dir=EDGES[request.param](root / "data"), index_dir=root / "index", reload_interval_s=0.2)
    build_index(settings, encoder=encoder, progress=False)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_serving(channel)
            yield request.param, pb_grpc.RecommenderStub(channel), settings
    finally:
        server.stop(None)


def call(method: Callable[..., object], request: object) -> tuple[grpc.StatusCode, object]:
    try:
        return grpc.StatusCode.OK, method(request, timeout=30)
    except grpc.RpcError as e:
        assert e.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), f"{request}: {e.details()}"
        return e.code(), e.details()


def recommend_requests(users: list[int]) -> Iterator[pb.RecommendRequest]:
    """Every shape of valid request: with and without a prompt, anonymous and per user, both flags, limits."""
    for prompt, user, include_rated, limit in itertools.product(
        ("a story about growing up in a small town", ""), [None, *users], (False, True), (0, 1, 100)
    ):
        if not prompt and user is None:
            continue
        request = pb.RecommendRequest(prompt=prompt, limit=limit, include_rated=include_rated)
        if user is not None:
            request.user_id = user
        yield request


def test_every_rpc_answers_ok_or_a_precise_status(edge: tuple[str, pb_grpc.RecommenderStub, Settings]) -> None:
    name, stub, _ = edge
    code, info = call(stub.GetIndexInfo, pb.GetIndexInfoRequest())
    assert code == grpc.StatusCode.OK
    known = sorted(int(u) for u in pd.read_csv(edge[2].data.data_dir / "ratings.csv")["userId"].unique())
    assert info.users == len(known) and info.movies >= 1  # type: ignore[attr-defined]
    catalogue = pd.read_csv(edge[2].data.data_dir / "tmdb_5000_movies.csv")["id"].astype(int).tolist()

    for request in recommend_requests(known):
        code, reply = call(stub.Recommend, request)
        assert code == grpc.StatusCode.OK, (request, reply)
        wanted = request.limit or 10
        ids = [m.movie_id for m in reply.movies]  # type: ignore[attr-defined]
        assert len(ids) == len(set(ids)) <= wanted
        assert set(ids) <= set(catalogue)
        if request.include_rated or not request.HasField("user_id"):
            assert len(ids) == min(wanted, len(catalogue)), (name, request)
        elif name == "every movie rated" and request.user_id == 1:  # nothing left: an empty list, not an error
            assert ids == []

    # Groups of the known users, every strategy: a list for all of them, without what any of them rated.
    rated = pd.read_csv(edge[2].data.data_dir / "ratings.csv").merge(
        pd.read_csv(edge[2].data.data_dir / "links.csv"), on="movieId"
    )
    for members, prompt, include_rated, strategy in itertools.product(
        [known[:2], known[:3]] if len(known) >= 2 else [],
        ("a story about growing up", ""),
        (False, True),
        ("", "average", "least_misery", "average_without_misery", "average_and_best", "fair"),
    ):
        request = pb.RecommendRequest(
            prompt=prompt, group_user_ids=members, include_rated=include_rated, group_strategy=strategy
        )
        code, reply = call(stub.Recommend, request)
        assert code == grpc.StatusCode.OK, (request, reply)
        ids = [m.movie_id for m in reply.movies]  # type: ignore[attr-defined]
        assert len(ids) == len(set(ids))
        assert all(sorted(m.member_fit) == sorted(members) for m in reply.movies)  # type: ignore[attr-defined]
        assert reply.group_strategy == (strategy or edge[2].ranking.group_strategy)  # type: ignore[attr-defined]
        seen = set(rated.loc[rated["userId"].isin(members), "tmdbId"].astype(int))
        if include_rated:
            assert len(ids) == min(10, len(catalogue))
        else:  # a group whose members rated everything gets an empty list, not an error
            assert not set(ids) & seen and len(ids) == min(10, len(set(catalogue) - seen)), (name, request)

    # An unknown user is NOT_FOUND; then their first rating makes them known, on every edge.
    assert call(stub.Recommend, pb.RecommendRequest(prompt="x", user_id=NEW_USER))[0] == grpc.StatusCode.NOT_FOUND
    assert call(stub.GetUser, pb.GetUserRequest(user_id=NEW_USER))[0] == grpc.StatusCode.NOT_FOUND
    assert (
        call(stub.RecordFeedback, pb.FeedbackRequest(user_id=NEW_USER, movie_id=-5, rating=3))[0]
        == grpc.StatusCode.NOT_FOUND
    )
    for i, movie in enumerate(catalogue[:3]):
        code, ack = call(stub.RecordFeedback, pb.FeedbackRequest(user_id=NEW_USER, movie_id=movie, rating=4.5 - i))
        assert code == grpc.StatusCode.OK and ack.ratings == i + 1  # type: ignore[attr-defined]
        code, user = call(stub.GetUser, pb.GetUserRequest(user_id=NEW_USER))
        assert code == grpc.StatusCode.OK and user.ratings == i + 1  # type: ignore[attr-defined]
        for request in recommend_requests([NEW_USER]):
            if not request.HasField("user_id"):
                continue
            code, reply = call(stub.Recommend, request)
            assert code == grpc.StatusCode.OK, (request, reply)
            ids = {m.movie_id for m in reply.movies}  # type: ignore[attr-defined]
            if request.include_rated:
                assert len(ids) == min(request.limit or 10, len(catalogue))
            else:  # what they rated is left out, so a catalogue they rated whole answers an empty list
                assert not ids & set(catalogue[: i + 1])
                assert len(ids) == min(request.limit or 10, len(catalogue) - (i + 1))
    for user in known:  # a known user rating again (a movie they may already have rated)
        assert (
            call(stub.RecordFeedback, pb.FeedbackRequest(user_id=user, movie_id=catalogue[-1], rating=1))[0]
            == grpc.StatusCode.OK
        )
