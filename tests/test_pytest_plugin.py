"""The pytest plugin (entry point pytest11): `pytest --bpgrade SUBMISSION` shows each
visible rubric item as a test, the grader's feedback as the failure message, and the
hidden items only as a count. Each run below grades once; the plugin is loaded only
through its installed entry point (no -p option anywhere)."""
import shutil
from pathlib import Path

import pytest

from backprop_grader import load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
SEED = 1
GATES = rubric.load(rubric.find("gates"))
VISIBLE = [i.id for i in GATES.items if not i.hidden]
HIDDEN = [i for i in GATES.items if i.hidden]

class not_imported:
    """Fails the run if pytest itself imported the submission (it must only be graded).
    A plugin object, not a conftest.py: with --bpgrade no conftest is loaded."""

    def __init__(self, path):
        self.path, self.checked = path, False

    def pytest_collection_finish(self, session):
        import sys
        submission = Path(session.config.invocation_params.dir, self.path).resolve()
        for name, module in list(sys.modules.items()):
            if getattr(module, "__file__", None):
                assert Path(module.__file__).resolve() != submission, name
        self.checked = True


@pytest.fixture(scope="module")
def expected():
    """The grader's own verdict on forgot_dz.py with the seed the runs use."""
    result = score.grade(load.load(DATA / "forgot_dz.py", list(GATES.gates)), GATES, seed=SEED)
    return {t["extra_data"]["id"]: t for t in report.gradescope(result)["tests"]}


def test_module_submission(pytester, expected):
    shutil.copy(DATA / "forgot_dz.py", pytester.path / "gates.py")
    guard = not_imported("gates.py")
    result = pytester.runpytest("--bpgrade", "gates.py", "--bpgrade-seed", str(SEED), "-v",
                                "-p", "no:cacheprovider", plugins=[guard])
    assert guard.checked
    out = result.stdout.str()
    failed = [i for i in VISIBLE if expected[i]["status"] == "failed"]
    hidden_failed = any(expected[i.id]["status"] == "failed" for i in HIDDEN)
    assert failed and hidden_failed  # the run must show both kinds of failure
    result.assert_outcomes(passed=len(VISIBLE) - len(failed),
                           failed=len(failed) + hidden_failed)
    for item_id in VISIBLE:
        word = "FAILED" if item_id in failed else "PASSED"
        result.stdout.fnmatch_lines(["gates.py::%s %s*" % (item_id, word)])
    result.stdout.fnmatch_lines(["gates.py::hidden-checks FAILED*"])
    # the feedback is the failure message, line for line
    for item_id in failed:
        t = expected[item_id]
        result.stdout.fnmatch_lines(["%s: 0 / %g points" % (t["name"], t["max_score"])]
                                    + [line.replace("[", "[[]") for line in t["output"].splitlines()])
    assert "Traceback" not in out and "raise Failed" not in out
    # hidden items only as a count
    for item in HIDDEN:
        assert item.id not in out and item.name not in out
        assert expected[item.id]["output"].splitlines()[1] not in out
    result.stdout.fnmatch_lines(["*Hidden checks: 1 of 1 failed*",
                                 "*bpgrade: gates.py: * on the visible checks; hidden checks: "
                                 "0 of 1 passed (seed 1)*"])
    assert "bpgrade: gates.py, rubric gates, seed 1" in out


def test_notebook_all_pass_with_a_rubric_option(pytester):
    shutil.copy(ROOT / "assignments" / "gates" / "source.ipynb", pytester.path / "gates.ipynb")
    rub = ROOT / "assignments" / "gates" / "rubric.yaml"
    # `--opt=PATH`: pytest takes a path given as a separate option value into account
    # when it chooses the rootdir
    result = pytester.runpytest_subprocess("--bpgrade", "gates.ipynb", "--bpgrade-rubric=%s" % rub,
                                           "-p", "no:cacheprovider")
    items = rubric.load(rub).items
    visible = sum(i.points for i in items if not i.hidden)
    result.assert_outcomes(passed=sum(not i.hidden for i in items) + 1)  # + the hidden count
    assert result.ret == 0
    result.stdout.fnmatch_lines(["rootdir: %s" % pytester.path,
                                 "gates.ipynb ............ *",
                                 "*bpgrade: gates.ipynb: %g / %g on the visible checks; hidden "
                                 "checks: 1 of 1 passed*" % (visible, visible)])


def test_collect_only_lists_items_without_grading(pytester):
    shutil.copy(DATA / "good.py", pytester.path / "test_gates.py")  # a test-like name, even
    guard = not_imported("test_gates.py")
    result = pytester.runpytest("--bpgrade", "test_gates.py", "--collect-only", "-q", plugins=[guard])
    assert guard.checked
    assert result.ret == 0
    assert result.stdout.lines[:len(VISIBLE) + 1] == (
        ["test_gates.py::" + i for i in VISIBLE] + ["test_gates.py::hidden-checks"])
    assert "on the visible checks" not in result.stdout.str()


def test_with_other_tests_and_a_folder_submission(pytester):
    sub = pytester.path / "submission"
    sub.mkdir()
    shutil.copy(DATA / "good.py", sub / "gates.py")
    pytester.makepyfile(test_mine="def test_mine():\n    assert 1 + 1 == 2\n")
    guard = not_imported("submission/gates.py")
    result = pytester.runpytest("test_mine.py", "--bpgrade", "submission", "-v",
                                "--bpgrade-seed", "5", plugins=[guard])
    assert guard.checked
    result.assert_outcomes(passed=len(VISIBLE) + 1 + 1)
    result.stdout.fnmatch_lines(["test_mine.py::test_mine PASSED*",
                                 "submission::mul-backward PASSED*",
                                 "*bpgrade: gates.py: 90 / 90 on the visible checks*(seed 5)*"])


def test_without_the_option_the_plugin_does_nothing(pytester):
    shutil.copy(DATA / "forgot_dz.py", pytester.path / "test_gates.py")
    pytester.makepyfile(test_mine="def test_mine():\n    pass\n")
    result = pytester.runpytest("test_mine.py")
    result.assert_outcomes(passed=1)
    assert "bpgrade" not in result.stdout.str()
    assert "--bpgrade=SUBMISSION" in pytester.runpytest("--help").stdout.str()


def test_missing_submission_is_a_usage_error(pytester):
    result = pytester.runpytest("--bpgrade", "nope.ipynb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--bpgrade nope.ipynb: no such file or directory" in result.stderr.str()


def test_bad_rubric_is_one_collection_error(pytester):
    shutil.copy(DATA / "good.py", pytester.path / "gates.py")
    result = pytester.runpytest("--bpgrade", "gates.py", "--bpgrade-rubric", "nope.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting gates.py*", "bpgrade: nope.yaml: no such rubric file"])
    assert "Traceback" not in result.stdout.str()


def test_load_warnings_are_shown(pytester):
    source = (DATA / "good.py").read_text() + "\nraise RuntimeError('oops at the end')\n"
    (pytester.path / "gates.py").write_text(source)
    result = pytester.runpytest("--bpgrade", "gates.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(VISIBLE) + 1)
    result.stdout.fnmatch_lines(["bpgrade: ! *RuntimeError*oops at the end*"])


def test_folder_without_a_submission_fails_every_item_with_the_reason(pytester):
    (pytester.path / "empty").mkdir()
    (pytester.path / "empty" / "notes.txt").write_text("nothing here\n")
    result = pytester.runpytest("--bpgrade", "empty", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == len(VISIBLE) + 1
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "empty" in out
