"""Bearer tokens: the file format, scopes and statuses (the server-level test is in test_operations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.diagnostics import DataError, PermissionDenied, Unauthenticated
from movierec.server.auth import TokenTable

READ, WRITE = "r" * 20, "w" * 20
RECOMMEND, FEEDBACK = "/movierec.v1.Recommender/Recommend", "/movierec.v1.Recommender/RecordFeedback"


@pytest.fixture()
def table(tmp_path: Path) -> TokenTable:
    path = tmp_path / "tokens"
    path.write_text(f"# who may call\n\n{READ} read\n{WRITE} write   # a service that rates\n")
    return TokenTable.load(path)


def test_scopes_decide_what_a_token_may_call(table: TokenTable) -> None:
    table.check(RECOMMEND, f"Bearer {READ}")
    table.check(RECOMMEND, f"bearer {WRITE}")  # write includes read; the scheme is case-insensitive
    table.check(FEEDBACK, f"Bearer {WRITE}")
    with pytest.raises(PermissionDenied, match="RecordFeedback needs a token with the 'write' scope"):
        table.check(FEEDBACK, f"Bearer {READ}")
    for header in (None, "", f"Basic {READ}", "Bearer ", f"Bearer {READ}x"):
        with pytest.raises(Unauthenticated):
            table.check(FEEDBACK, header)
    table.check("/grpc.health.v1.Health/Check", None)  # health and reflection need none


def test_no_token_value_appears_in_an_error(table: TokenTable) -> None:
    for header in (f"Bearer {READ}x", f"Bearer {READ}"):
        with pytest.raises((Unauthenticated, PermissionDenied)) as refused:
            table.check(FEEDBACK, header)
        assert READ not in str(refused.value)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "names no token"),
        ("onlyonefield\n", "line 1"),
        (f"{READ} read\n{WRITE} admin\n", "line 2: unknown scope 'admin'"),
        ("short read\n", "at least 16 characters"),
    ],
)
def test_a_malformed_tokens_file_is_refused_naming_the_line(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(DataError, match=words):
        TokenTable.load(path)


def test_a_missing_tokens_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read the tokens file"):
        TokenTable.load(tmp_path / "absent")
