"""Docstrings and docs are complete and self-contained.

- Every parameter of every public function, method and class in the API reference is
  documented in its own docstring (``Args:``, or ``Attributes:`` for dataclasses), as the
  docs site renders them (griffe, the parser mkdocstrings uses).
- No docstring, docs page or the README cites the internal development documents
  (``contract §...``, ``../shared``): they state the behaviour itself.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import griffe
import pytest

REPO = Path(__file__).resolve().parents[2]

# The objects the API reference pages render (docs/reference/*.md).
REFERENCE = (
    "dataset.base.DatamintBaseDataset",
    "dataset.volume_dataset.VolumeDataset",
    "dataset.image_dataset.ImageDataset",
    "dataset.video_dataset.VideoDataset",
    "dataset.sliced_dataset.SlicedVolumeDataset",
    "dataset.sliced_video_dataset.SlicedVideoDataset",
    "dataset.multiframe_dataset.MultiFrameDataset",
    "dataset.factory.build_dataset",
    "dataset.collate.collate_items",
    "dataset.collate.detection_collate_fn",
    "splits.result.SplitResult",
    "api.client.Api",
    "agreement",
    "geometry",
    "exceptions",
)
INTERNAL = re.compile(r"contract\s*§|contract/API\.md|\.\./shared|API\.md\s*§|STYLE\s*§")
# Owned by another branch that is rewriting it; remove once merged (see the report).
NOT_YET_CLEAN: set[str] = set()


def _documented(obj: Any) -> set[str]:
    names: set[str] = set()
    if obj.docstring is not None:
        for section in obj.docstring.parse("google"):
            if section.kind.value in ("parameters", "attributes", "other parameters"):
                names |= {p.name.lstrip("*") for p in section.value}
    return names


def _undocumented(obj: Any, seen: set[str]) -> list[str]:
    if obj.is_alias:
        try:
            obj = obj.final_target
        except Exception:  # an alias to outside the package
            return []
    if obj.path in seen:
        return []
    seen.add(obj.path)
    missing: list[str] = []
    if obj.is_function:
        known = _documented(obj)
        if obj.name == "__init__":
            known |= _documented(obj.parent)
        missing += [
            f"{obj.path}: {p.name}"
            for p in obj.parameters
            if p.name not in ("self", "cls") and p.name not in known
        ]
    elif obj.is_class:
        for member in obj.all_members.values():
            if not member.name.startswith("_") or member.name == "__init__":
                missing += _undocumented(member, seen)
    elif obj.is_module:
        for member in obj.members.values():
            if not member.name.startswith("_") and not member.is_alias:
                missing += _undocumented(member, seen)
    return missing


def test_every_parameter_of_the_reference_is_documented() -> None:
    package = griffe.load("datamint", search_paths=[str(REPO)], docstring_parser="google")
    seen: set[str] = set()
    missing = [m for path in REFERENCE for m in _undocumented(package[path], seen)]
    assert missing == []


def _docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (doc := ast.get_docstring(node, clean=False)):
            found.append((getattr(node, "lineno", 1), doc))
    return found


def test_no_docstring_cites_internal_documents() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sorted((REPO / "datamint").rglob("*.py"))
        for line, doc in _docstrings(path)
        if INTERNAL.search(doc)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "page",
    ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md"))],
)
def test_no_page_cites_internal_documents(page: str) -> None:
    if page in NOT_YET_CLEAN:
        pytest.skip(f"{page} is rewritten on another branch")
    text = (REPO / page).read_text(encoding="utf-8")
    assert not INTERNAL.search(text), INTERNAL.search(text)


def test_the_readme_links_resolve() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)\)", text)
    assert any(t.startswith("notebooks/") for t in targets)
    missing = [t for t in targets if "://" not in t and not (REPO / t).exists()]
    assert missing == []
