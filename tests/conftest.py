"""Shared fixtures: one encoder per session, indexes built once, servers on port 0."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from movierec.bench.postgres import PostgresServer
from movierec.clients.client import RecommenderClient
from movierec.embedding import Encoder, TextEncoder, settings_encoder
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data" / "sample"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The real-data tests share one session index whose build embeds the whole catalogue; under
    # pytest-xdist (`make test` runs two workers) they go to one worker, so it is built once.
    for item in items:
        if item.get_closest_marker("realdata") is not None:
            item.add_marker(pytest.mark.xdist_group("realdata"))
        if "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


# The exported ONNX encoder files, made once and shared by every process the tests start (servers,
# indexers); otherwise each new index folder would export its own.
os.environ.setdefault("MOVIEREC_ONNX_DIR", str(Path(tempfile.gettempdir()) / f"movierec-tests-onnx-{os.getuid()}"))


@pytest.fixture(scope="session")
def encoder() -> TextEncoder:
    """The default sentence encoder (the default backend), loaded once for the whole session."""
    return settings_encoder(Settings(onnx_dir=Path(os.environ["MOVIEREC_ONNX_DIR"])))


@pytest.fixture(scope="session")
def torch_encoder() -> Encoder:
    """The fp32 PyTorch encoder, the reference the other backends are held to."""
    return Encoder(Settings().encoder.model_dir)


def _settings(data_dir: Path, index_dir: Path, **changes: object) -> Settings:
    return Settings(data_dir=data_dir, index_dir=index_dir, reload_interval_s=0.2).replace(**changes)


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Settings:
    """An index of the bundled sample data, built once per session."""
    from movierec.indexer.build import build_index

    settings = _settings(SAMPLE_DATA, tmp_path_factory.mktemp("sample-index"))
    build_index(settings, encoder=encoder, progress=False)
    return settings


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real seed data (REAL_DATA_DIR). Missing data fails under CI=true and skips elsewhere."""
    value = os.environ.get("REAL_DATA_DIR")
    path = Path(value) if value else None
    if path is None or not (path / "tmdb_5000_movies.csv").is_file():
        message = (
            f"real data not found: set REAL_DATA_DIR to the folder with tmdb_5000_movies.csv "
            f"(e.g. ../shared/data/seed); got {value!r}"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder, real_data_dir: Path) -> Settings:
    """An index of the real seed data, built once per session (about 2.5 minutes on 2 cores)."""
    from movierec.indexer.build import build_index

    # Without the learned ranker: these tests ask with moods, which the weighted sum answers; the
    # learned ranker on real data is tested by tests/evaluation/test_taste_target.py.
    settings = _settings(real_data_dir, tmp_path_factory.mktemp("real-index"), learned_train=False)
    build_index(settings, encoder=encoder, progress=False)
    return settings


# -- calling the sample server (tests/server) ------------------------------------------------------
def call(channel: grpc.Channel, **fields: object) -> pb.RecommendResponse:
    return pb_grpc.RecommenderStub(channel).Recommend(pb.RecommendRequest(**fields), timeout=30)


def code_of(rpc, *args, **kwargs) -> tuple[grpc.StatusCode, str]:  # noqa: ANN001
    """The status code and message a call that must fail ends with."""
    with pytest.raises(grpc.RpcError) as e:
        rpc(*args, **kwargs)
    return e.value.code(), e.value.details()


def status_of(channel: grpc.Channel, **fields: object) -> tuple[grpc.StatusCode, str]:
    return code_of(call, channel, **fields)


def sample_rated(user_id: int) -> set[int]:
    """TMDB ids the sample user rated, read straight from the sample files."""
    with open(SAMPLE_DATA / "links.csv", newline="") as f:
        links = {row["movieId"]: int(row["tmdbId"]) for row in csv.DictReader(f)}
    with open(SAMPLE_DATA / "ratings.csv", newline="") as f:
        return {links[row["movieId"]] for row in csv.DictReader(f) if int(row["userId"]) == user_id}


def wait_serving(channel: grpc.Channel, timeout_s: float = 60.0) -> None:
    from movierec.clients.client import RecommenderClient

    client = RecommenderClient("unused", channel=channel)
    assert client.wait_until_serving(timeout_s), "server did not report SERVING"


@pytest.fixture(scope="session")
def sample_server(sample_settings: Settings, encoder: Encoder) -> Iterator[tuple[grpc.Server, int]]:
    """An in-process server on port 0 serving the sample index."""
    from movierec.server.app import create_server

    server, port = create_server(sample_settings, "127.0.0.1:0", encoder=encoder)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        wait_serving(channel)
    yield server, port
    server.stop(None)


@pytest.fixture()
def sample_channel(sample_server: tuple[grpc.Server, int]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{sample_server[1]}") as channel:
        yield channel


@pytest.fixture()
def served(tmp_path: Path, sample_settings: Settings, encoder: Encoder) -> Iterator[tuple[RecommenderClient, Settings]]:
    """A server of its own (feedback changes state) over a copy of the sample index, and a client of it."""
    import shutil

    from movierec.server.app import create_server

    index_dir = tmp_path / "index"
    shutil.copytree(sample_settings.index.index_dir, index_dir, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    settings = sample_settings.replace(index_dir=index_dir, reload_interval_s=0.1)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    client = RecommenderClient(f"127.0.0.1:{port}")
    assert client.wait_until_serving(30)
    yield client, settings
    client.close()
    server.stop(None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (movierec.bench.postgres; installed with apt-get if missing)."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture()
def postgres_url(postgres: PostgresServer) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server (with a password in it)."""
    return postgres.new_database()
