"""Bearer tokens with scopes, read from `tokens_path`.

File format, one token a line: `<token> <scope>[,<scope>...]`; scopes `read` and `write` (write
includes read); `#` starts a comment. Tokens are kept only as SHA-256 digests and compared in
constant time, so neither the comparison's timing nor a memory dump of the table gives one away.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from movierec.diagnostics import DataError, PermissionDenied, Unauthenticated

SCOPES = ("read", "write")
# Which scope each Recommender method needs; a method not listed needs none (health, reflection).
METHOD_SCOPES = {
    "/movierec.v1.Recommender/Recommend": "read",
    "/movierec.v1.Recommender/GetUser": "read",
    "/movierec.v1.Recommender/GetIndexInfo": "read",
    "/movierec.v1.Recommender/RecordFeedback": "write",
    "/movierec.v1.Recommender/SearchMovies": "read",
    "/movierec.v1.Recommender/GetMovie": "read",
}


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class TokenTable:
    entries: tuple[tuple[bytes, frozenset[str]], ...]  # (sha256 of the token, its scopes)

    @classmethod
    def load(cls, path: Path) -> TokenTable:
        """Read a tokens file; DataError names the line of anything malformed."""
        entries = []
        try:
            lines = path.read_text().splitlines()
        except OSError as e:
            raise DataError(path, f"cannot read the tokens file: {e.strerror or e}") from None
        for number, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise DataError(path, "expected `<token> <scope>[,<scope>]` (scopes: read, write)", line=number)
            token, scopes = parts[0], frozenset(s for s in parts[1].split(",") if s)
            if unknown := scopes - set(SCOPES):
                raise DataError(path, f"unknown scope {sorted(unknown)[0]!r} (scopes: read, write)", line=number)
            if len(token) < 16:
                raise DataError(path, "a token must be at least 16 characters", line=number)
            if "write" in scopes:
                scopes |= {"read"}
            entries.append((_digest(token), scopes))
        if not entries:
            raise DataError(path, "the tokens file names no token")
        return cls(tuple(entries))

    def check(self, method: str, authorization: str | None) -> None:
        """Raise Unauthenticated / PermissionDenied unless `authorization` ("Bearer <token>") may call `method`."""
        needed = METHOD_SCOPES.get(method)
        if needed is None:
            return
        if not authorization:
            raise Unauthenticated(
                "this server needs a token: send `authorization: Bearer <token>` (gRPC metadata "
                "or an HTTP header; movierec --token, or MOVIEREC_TOKEN)"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("`authorization` must be `Bearer <token>`")
        digest = _digest(token.strip())
        granted: frozenset[str] | None = None
        for known, scopes in self.entries:  # every entry is compared: the time does not depend on which matched
            if hmac.compare_digest(known, digest):
                granted = scopes
        if granted is None:
            raise Unauthenticated("the token is not valid for this server")
        if needed not in granted:
            raise PermissionDenied(
                f"{method.rsplit('/', 1)[-1]} needs a token with the {needed!r} scope; "
                f"this one has {', '.join(sorted(granted))}"
            )
