"""What a student may see of a rubric item: the one place that decides.

A rubric item, and its results.json test, has a `visibility`: `visible` items
are shown to students in full; every other value (hidden, after_due_date,
after_published, or anything unknown) hides the item from the student's view,
which shows hidden items only as a count. Imports nothing.
"""
VISIBLE = "visible"

# When a student sees an item's result: at once, after the due date, once grades
# are published, never.
REVEAL = {"visible": 0, "after_due_date": 1, "after_published": 2, "hidden": 3}


def is_hidden(visibility: object) -> bool:
    """True when a student does not see an item of this visibility."""
    return visibility != VISIBLE


def hidden_test(test: dict) -> bool:
    """`is_hidden` for a results.json test (a missing visibility is visible)."""
    return is_hidden(test.get("visibility", VISIBLE))


def reveal(visibility: object) -> int:
    """When the student sees an item of this visibility (REVEAL); unknown: never."""
    if not is_hidden(visibility):
        return REVEAL[VISIBLE]
    return REVEAL.get(visibility, REVEAL["hidden"])


def split(tests: list) -> tuple:
    """(shown, hidden) results.json tests, each in the order given."""
    return [t for t in tests if not hidden_test(t)], [t for t in tests if hidden_test(t)]
