"""movierec.server."""

from __future__ import annotations

from typing import Any

from movierec.extras import launch


def main() -> Any:
    """`movierec-serve` (movierec.server.app), or which extra to install."""
    return launch("movierec.server.app", "server")
