"""Shared by test_layers.py and test_dlfs_layers.py: grade a corpus of student files
(each once per seed, two at a time) and compare every item's verdict and named mistake
with a table {file: {failing item: mistake id or None}}."""
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backprop_grader import load
from backprop_grader.judge import score
from backprop_grader.report import results as report


def grade_all(corpus: Path, rub, names, seeds) -> dict:
    """{(file stem, seed): results.json dict}."""
    def grade(name, seed):
        loaded = load.load(corpus / (name + ".py"), class_names=list(rub.gates))
        return report.gradescope(score.grade(loaded, rub, seed=seed))
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = {(name, seed): pool.submit(grade, name, seed) for name in names for seed in seeds}
        return {key: job.result() for key, job in jobs.items()}


def mismatches(graded: dict, expected: dict) -> dict:
    """The gradings whose failing items (and their mistakes) differ from `expected`.
    A numerical item may name the file's mistake or none: it names one only when at
    least three of its trials are left after kinks are drawn again."""
    wrong = {}
    for (name, seed), data in graded.items():
        failing = {t["extra_data"]["id"]: t["extra_data"]["mistake"] for t in data["tests"]
                   if t["score"] < t["max_score"]}
        mistake = next((m for m in expected[name].values() if m), None)
        for item, named in failing.items():
            if item.endswith("-numerical") and named == mistake:
                failing[item] = None
        if failing != expected[name]:
            wrong[name, seed] = failing
    return wrong


def unsaid(graded: dict, says: dict) -> list:
    """(file, seed, item) whose output lacks the words `says` expects."""
    missing = []
    for (name, seed), data in graded.items():
        out = {t["extra_data"]["id"]: t["output"] for t in data["tests"]}
        missing += [(name, seed, item) for (file, item), words in says.items()
                    if file == name and words not in out[item]]
    return missing
