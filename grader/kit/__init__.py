"""The student side of a kit that `bpgrade release` builds (see grader/authoring/kit.py):
finding the kit and its rubric, replaying recorded reference answers
(`replay`), and checking from inside a notebook (`notebook`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

KIT_DIR = ".bpgrade"
MANIFEST = "kit.json"
ANSWERS = "answers.py"
RUBRIC_NAMES = ("rubric.yaml", "rubric.yml")


@dataclass
class Found:
    rubric: Path  # the rubric file to grade with
    kit: dict | None  # the kit's manifest when the rubric is a kit's
    folder: Path  # where it was found

    def describe(self) -> str:
        if self.kit:
            return "%s (the student kit for %s: visible checks at the kit's seed %d)" % (
                self.rubric, self.kit.get("assignment"), self.kit.get("seed"))
        return str(self.rubric)


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / KIT_DIR / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_rubric(submission: str | Path, start: Path | None = None) -> Found | None:
    """The assignment's rubric for a self-check: a kit's (its manifest names it) or a
    rubric.yaml beside the submission, in its folder or the folders above it (up to
    the working directory's), then in the working directory. None when there is none."""
    sub = Path(submission).resolve()
    folder = sub if sub.is_dir() else sub.parent
    cwd = Path(start or Path.cwd()).resolve()
    candidates = [folder] + [p for p in folder.parents if cwd == p or cwd in p.parents]
    if cwd not in candidates:
        candidates.append(cwd)
    for place in candidates:
        kit = read_manifest(place)
        if kit and (place / kit.get("rubric", "rubric.yaml")).is_file():
            return Found(place / kit.get("rubric", "rubric.yaml"), kit, place)
        for name in RUBRIC_NAMES:
            if (place / name).is_file():
                return Found(place / name, kit_for(place / name), place)
    return None


def kit_for(rubric: Path) -> dict | None:
    """The manifest of the kit `rubric` belongs to, if any."""
    rubric = Path(rubric).resolve()
    for place in [rubric.parent] + list(rubric.parents)[:2]:
        kit = read_manifest(place)
        if kit and (place / kit.get("rubric", "")).resolve() == rubric:
            return kit
    return None
