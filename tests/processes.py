"""`movierec-serve` in its own process, for tests that kill, restart and signal real servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from movierec.clients.client import RecommenderClient

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server process logging to a file; `env` adds settings (MOVIEREC_*) to the environment."""

    def __init__(self, index_dir: Path, log: Path, env: dict[str, str] | None = None):
        self.index_dir, self.log = index_dir, log
        self.target = f"127.0.0.1:{free_port()}"
        self.env = dict(os.environ, MOVIEREC_RELOAD_INTERVAL_S="0.2", **(env or {}))
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True, **client_options: object) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [BIN / "movierec-serve", "--index-dir", self.index_dir, "--address", self.target],
                stdout=out,
                stderr=out,
                env=self.env,
            )
        if wait:
            self.wait_serving(**client_options)

    def wait_serving(self, timeout_s: float = 90, **client_options: object) -> None:
        with RecommenderClient(self.target, **client_options) as client:  # type: ignore[arg-type]
            deadline = time.monotonic() + timeout_s
            while not client.serving():
                assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
                assert time.monotonic() < deadline, self.log.read_text()[-3000:]
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def stored_feedback(store_url: str) -> list[tuple[str, int, int, float]]:
    """Every row of a ratings store as (request_id, user_id, movie_id, rating), read straight from the engine."""
    from movierec.store import sqlite_path

    path = sqlite_path(store_url)
    query = "SELECT request_id, user_id, movie_id, rating FROM feedback ORDER BY seq"
    if path is not None:
        import sqlite3

        with sqlite3.connect(path) as db:
            return [tuple(row) for row in db.execute(query).fetchall()]  # type: ignore[misc]
    import psycopg

    with psycopg.connect(store_url) as conn:
        return [tuple(row) for row in conn.execute(query).fetchall()]  # type: ignore[misc]
