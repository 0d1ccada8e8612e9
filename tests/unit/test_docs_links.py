"""The README and docs/ link only to what a clone of the repository has: files inside it (not ../shared, not build
output or installed packages), and headings that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_IN_A_CLONE = ("target", "node_modules", ".venv", ".fluence-dao", "build", "generated")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_point_into_the_repository(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text, f"{page.name} points at ../shared, which a clone does not have"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https://..., mailto:
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        inside = resolved.relative_to(ROOT).parts
        assert not set(inside) & set(NOT_IN_A_CLONE), f"{page.name}: {target} is build output or installed"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: {target}: no such heading"


def test_the_slug_matches_githubs() -> None:
    assert _slug("Monitoring the interval") == "monitoring-the-interval"
    assert _slug("`fluence-dao ipfs pin ls`") == "fluence-dao-ipfs-pin-ls"
