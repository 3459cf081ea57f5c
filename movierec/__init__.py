"""movierec: movie recommendations for a mood and a taste."""

from __future__ import annotations

__version__ = "0.1.0"
