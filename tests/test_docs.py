"""The README and docs/: short README, and every link between them (and to the repository's files) resolves."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_LINES = 300


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lstrip("#").strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, in_code = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(slug(line))
    return found


def test_the_readme_is_short_and_links_to_every_doc() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0].split()
    assert [w for w in first_block if w in ("make", "demo", "test")][:4] == ["make", "demo", "make", "test"]
    for doc in DOCS[1:]:
        assert f"(docs/{doc.name})" in readme, f"the README does not link {doc.name}"


def test_every_relative_link_resolves() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()) + re.findall(r'src="([^"]+)"', doc.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            destination = (doc.parent / path).resolve() if path else doc
            if not destination.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert not broken, broken


def test_no_issue_numbers_in_the_docs() -> None:
    for doc in DOCS:
        assert not re.search(r"\bissue \d+", doc.read_text(), re.IGNORECASE), doc.name


def test_the_settings_reference_is_generated_from_the_code(tmp_path: Path) -> None:
    from movierec import settings_reference

    assert settings_reference.current(), "run python -m movierec.settings_reference --write"
    # The check can fail: a document whose reference misses a setting is not current, and --write mends it.
    stale = tmp_path / "configuration.md"
    stale.write_text((REPO / "docs" / "configuration.md").read_text().replace("| `similar_users` |", "| `gone` |"))
    assert not settings_reference.current(stale) and settings_reference.main(["--check", "--document", str(stale)]) == 1
    settings_reference.main(["--write", "--document", str(stale)])
    assert settings_reference.current(stale)
    assert stale.read_text() == (REPO / "docs" / "configuration.md").read_text()
