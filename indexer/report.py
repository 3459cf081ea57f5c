"""Counting what a loader could not use, so that nothing is dropped silently."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from movierec.manifest import InputReport

# How many example problems to keep per report; the counts cover all of them.
MAX_EXAMPLES = 20


@dataclass
class LoadReport:
    """What one input file gave: rows read, rows used, and why the others were not used."""

    path: str
    rows_read: int = 0
    rows_used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def skip(self, reason: str, where: str | None = None) -> None:
        """Count a row that is left out, with an example message naming where it is."""
        self.skipped[reason] += 1
        self._example(reason, where)

    def warn(self, reason: str, where: str | None = None) -> None:
        """Count a problem in a row that is still used (e.g. a malformed optional cell)."""
        self.warnings[reason] += 1
        self._example(reason, where)

    def _example(self, reason: str, where: str | None) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{self.path}{', ' + where if where else ''}: {reason}")

    def summary(self) -> str:
        parts = [f"{self.path}: {self.rows_used}/{self.rows_read} rows used"]
        for reason, n in sorted(self.skipped.items()):
            parts.append(f"  skipped {n}: {reason}")
        for reason, n in sorted(self.warnings.items()):
            parts.append(f"  warning {n}: {reason}")
        return "\n".join(parts)

    def record(self) -> InputReport:
        """The report as the index manifest records it (without the examples)."""
        return InputReport(
            path=self.path,
            rows_read=self.rows_read,
            rows_used=self.rows_used,
            skipped=dict(sorted(self.skipped.items())),
            warnings=dict(sorted(self.warnings.items())),
        )

    def as_dict(self) -> dict[str, object]:
        return self.record().to_dict()
