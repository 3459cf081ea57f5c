"""The base install is the client: a fresh virtual environment with only `pip install <repo>` (no
extras) runs `movierec recommend` against a running server, and has no torch, numpy or server code."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import grpc
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_the_base_package_is_a_working_client_without_torch(
    tmp_path: Path, sample_server: tuple[grpc.Server, int]
) -> None:
    env_dir = tmp_path / "client-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # A copy of the sources without the working folders (var/ holds indexes and caches).
    source = tmp_path / "source"
    files = subprocess.run(["git", "-C", str(REPO), "ls-files"], check=True, capture_output=True, text=True).stdout
    for name in files.splitlines():
        if (REPO / name).is_file() and not name.startswith(("data/", "reports/", "tests/")):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    probe = (
        "import importlib.util as u\n"
        "print(*[n for n in ('torch', 'numpy', 'pandas', 'faiss', 'movierec.recommender', 'movierec.server.app')"
        " if u.find_spec(n) is not None])"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path)
    # The server's code is in the distribution, its libraries are not: only the import of a module that
    # needs them would fail, which is what the client never does.
    assert "torch" not in found.stdout.split() and "numpy" not in found.stdout.split()
    assert subprocess.run([python, "-c", "import torch"], capture_output=True, cwd=tmp_path).returncode != 0
    reply = subprocess.run(
        [
            env_dir / "bin" / "movierec",
            "recommend",
            "a comedy for the kids",
            "--limit",
            "3",
            "--target",
            f"127.0.0.1:{sample_server[1]}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert reply.returncode == 0, reply.stderr
    rows = [line for line in reply.stdout.splitlines() if line[:3].strip().isdigit()]
    assert "understood:" in reply.stdout and len(rows) == 3
    refused = subprocess.run([env_dir / "bin" / "movierec", "eval"], capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "pip install 'movierec[eval]'" in refused.stderr
    # The programs installed beside the client say which extra they need, instead of a traceback.
    for program, extra in (("movierec-serve", "server"), ("movierec-index", "indexer"), ("movierec-bench", "eval")):
        missing = subprocess.run([env_dir / "bin" / program], capture_output=True, text=True, cwd=tmp_path)
        assert missing.returncode == 2 and f"pip install 'movierec[{extra}]'" in missing.stderr, missing.stderr
        assert "Traceback" not in missing.stderr
