"""The distribution's import names all live under `movierec.`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_top_level_server_indexer_or_clients_module(tmp_path: Path) -> None:
    """In a fresh interpreter (as users run it), only `movierec.*` names are importable."""
    probe = (
        "import importlib.util as u\n"
        "print(*[n for n in ('server', 'indexer', 'clients', 'core') if u.find_spec(n)])\n"
        "print(*[n for n in ('movierec.server', 'movierec.indexer', 'movierec.clients', 'movierec.v1') "
        "if u.find_spec(n)])"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    top_level, packaged = out.stdout.split("\n")[:2]
    assert top_level == ""
    assert packaged.split() == ["movierec.server", "movierec.indexer", "movierec.clients", "movierec.v1"]


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    """The checked-in generated code is exactly what `make proto` produces from proto/."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(REPO / "proto"),
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            f"--mypy_out={tmp_path}",
            f"--mypy_grpc_out={tmp_path}",
            str(REPO / "proto/movierec/v1/recommender.proto"),
        ],
        check=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    generated = sorted(p.name for p in (tmp_path / "movierec/v1").iterdir())
    assert generated == [
        "recommender_pb2.py",
        "recommender_pb2.pyi",
        "recommender_pb2_grpc.py",
        "recommender_pb2_grpc.pyi",
    ]
    for name in generated:
        assert (tmp_path / "movierec/v1" / name).read_text() == (REPO / "proto/movierec/v1" / name).read_text(), (
            f"{name} is stale: run `make proto`"
        )


def test_the_layer_contract_lists_every_core_module() -> None:
    """The core's contract (pyproject's [tool.importlinter]) names each module of movierec/, so a new one
    cannot slip past `make lint`'s layer check."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    core = next(c for c in config if c["name"] == "the core imports no program built on it")
    modules = {f"movierec.{p.stem}" for p in (REPO / "movierec").glob("*.py") if p.stem != "__init__"}
    assert set(core["source_modules"]) == modules


def test_the_stages_take_typed_inputs_not_the_ranker() -> None:
    """Each ranking stage reads what it needs (IndexFeatures, RankingConfig, the batch), never the Ranker."""
    import re

    stages = ["understanding", "constraints", "retrieval", "signals", "combine", "learned", "group", "explain"]
    for stage in stages:
        text = (REPO / "movierec" / f"{stage}.py").read_text()
        assert not re.search(r"\bRanker\b|from movierec\.ranking import", text), stage
