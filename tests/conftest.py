"""Fixtures shared by the tests of a shipped assignment (test_release.py,
test_sigmoid_assignment.py): each module names its ASSIGNMENT folder and SEED,
and defines `rub`, the rubric it grades with."""
import pytest

from backprop_grader.authoring import release, validate


@pytest.fixture(scope="module")
def released(request, tmp_path_factory, rub):
    """The module's assignment released: {source file name: (item, released path)}."""
    items = release.build(request.module.ASSIGNMENT, rub)
    written = release.write(items, tmp_path_factory.mktemp("release"))
    return {item.source.name: (item, path) for item, path in zip(items, written)}


@pytest.fixture(scope="module")
def graded(request, released, rub):
    """One grading per file: the sources and the released templates."""
    assignment, seed = request.module.ASSIGNMENT, request.module.SEED
    out = {}
    for name, (item, path) in released.items():
        out["source " + name] = validate.grade(assignment / name, rub, seed)
        out["template " + name] = validate.grade(path, rub, seed)
    return out
