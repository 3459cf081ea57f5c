"""A throwaway PostgreSQL server for the tests and `movierec-bench-replicas`, run from the machine's binaries.

The binaries are found under /usr/lib/postgresql/<version>/bin; on a machine without them they are
installed with `apt-get install postgresql` (as root, as CI runs), never skipped. `initdb` refuses
to run as root, so as root the cluster belongs to the `postgres` user and its programs run through
`runuser`. The cluster lives in a folder of its own under /tmp (pytest's folders are closed to
other users), listens on 127.0.0.1 on a free port, trusts local connections, and is removed at the end.
"""

from __future__ import annotations

import fcntl
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from movierec.bench.run import free_port

OWNER = "postgres"  # the user a root process runs the cluster as
INSTALL_LOCK = Path(tempfile.gettempdir()) / "movierec-postgresql-install.lock"


def _binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has pg_ctl and initdb."""
    found = [
        Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") if Path(p).with_name("initdb").exists()
    ]
    version = re.compile(r"/postgresql/(\d+)")
    found.sort(key=lambda p: int(m.group(1)) if (m := version.search(str(p))) else 0)
    return found[-1] if found else None


def postgres_binaries() -> Path:
    """The binaries folder, installing PostgreSQL with apt-get first when the machine has none."""
    found = _binaries()
    if found is not None:
        return found
    with open(INSTALL_LOCK, "w") as lock:  # two pytest workers may get here at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _binaries()
        if found is not None:
            return found
        if os.geteuid() != 0:
            raise RuntimeError(
                "PostgreSQL's binaries are not installed (/usr/lib/postgresql/*/bin) and only "
                "root can install them: run `apt-get install -y postgresql`"
            )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    found = _binaries()
    if found is None:
        raise RuntimeError("apt-get installed postgresql, but no /usr/lib/postgresql/*/bin/pg_ctl was found")
    return found


class PostgresServer:
    """One cluster; `new_database()` gives each test a database (and a URL) of its own."""

    # Sent in every URL: the cluster trusts local connections and never asks for it, and tests check
    # that it appears in no log or message.
    password = "pw-" + uuid.uuid4().hex[:12]

    def __init__(self) -> None:
        self.bin = postgres_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="movierec-pg-"))
        self.port = free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OWNER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", OWNER, "--"]
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def _run(self, *command: str | Path, timeout: float = 120) -> None:
        done = subprocess.run(
            [*self.as_owner, *map(str, command)], cwd=self.root, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{Path(command[0]).name} failed: {done.stdout[-1000:]}{done.stderr[-2000:]}\n{log}")

    def start(self) -> PostgresServer:
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "test_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a name made here
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
