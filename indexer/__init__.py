"""movierec.indexer."""

from __future__ import annotations

from typing import Any

from movierec.extras import launch


def main() -> Any:
    """`movierec-index` (movierec.indexer.cli), or which extra to install."""
    return launch("movierec.indexer.cli", "indexer")
