"""pytest plugin (entry point `pytest11`): a submission's rubric items as tests.

    pytest --bpgrade gates.ipynb [--bpgrade-rubric RUBRIC] [--bpgrade-seed N]

Without --bpgrade-rubric the assignment's rubric is used, as by `bpgrade check`: a
student kit's, or a rubric.yaml beside the submission (or in the working directory);
the header names it. In a kit, the seed is the kit's.

Each visible rubric item is one test item, `gates.ipynb::<item id>`; a failed item's
failure message is the grader's feedback (report.details(), as in results.json). Hidden
items are one more test, `gates.ipynb::hidden-checks`, whose message gives only a count.
The submission is graded once, by the sandboxed grader, when the first of its items runs;
pytest never imports the student's code itself. Without other paths on the command line
only the submission is collected; with them, it is collected besides them.

Give paths to the other options with `=` (`--bpgrade-rubric=../rubric.yaml`): pytest
takes a separate option value that looks like a path into account when it chooses its
rootdir.

Without --bpgrade the plugin does nothing, and importing it costs almost nothing: the
grader is imported only when it is used.

With --bpgrade, no conftest.py is loaded (as with --noconftest): a conftest.py beside
or inside the submission would run in this trusted process. A pytest configuration file
(pytest.ini, pyproject.toml, tox.ini, setup.cfg...) in the submission's folder stops
pytest with a usage error: run from another folder. pytest acts on such a file before
any plugin loads (its `addopts = -p MODULE` imports MODULE), so never run pytest from
inside a submission folder without --bpgrade either.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from backprop_grader.errors import UsageError

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from backprop_grader.judge.rubric import Item

HIDDEN_ID = "hidden-checks"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bpgrade", "backprop-grader: grade a submission as tests")
    group.addoption("--bpgrade", metavar="SUBMISSION", default=None,
                    help="grade SUBMISSION (a .ipynb notebook, a .py module or a folder): one "
                         "test per visible rubric item, the feedback as the failure message")
    group.addoption("--bpgrade-rubric", metavar="RUBRIC", default=None,
                    help="rubric YAML file or packaged rubric name (default: the assignment's: a "
                         "student kit's, or rubric.yaml beside the submission; else gates)")
    group.addoption("--bpgrade-seed", metavar="N", type=int, default=None,
                    help="grading seed, to reproduce a run exactly (default: a random one, "
                         "shown in the header)")


class Target:
    def __init__(self, path: Path, rubric: str | None, seed: int) -> None:
        self.path, self.rubric, self.seed = path, rubric, seed
        self.result = None  # the Result once graded


target_key = pytest.StashKey()


def target(config: pytest.Config) -> Target | None:
    return config.stash.get(target_key, None)


def submission_folder(invocation_dir: str | Path, given: str) -> Path:
    """The folder whose files the student controls: the submission folder, or the file's folder."""
    path = Path(invocation_dir, given).resolve()
    return path if path.is_dir() else path.parent


def refuse_config(inipath: str | Path | None, folder: Path) -> None:
    """A pytest configuration file from the submission's folder is a usage error."""
    if inipath is not None:
        ini = Path(inipath).resolve()
        if ini.parent == folder or folder in ini.parents:
            raise pytest.UsageError(
                "--bpgrade: %s is a pytest configuration file in the submission's folder; "
                "it is not used for grading: run pytest from another folder" % ini)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before any conftest.py is imported: with --bpgrade, none is (the student's would
    run in this process), and a configuration file of the student's stops pytest."""
    given = getattr(early_config.known_args_namespace, "bpgrade", None)
    if not given:
        return
    early_config.known_args_namespace.noconftest = True
    refuse_config(early_config.inipath, submission_folder(early_config.invocation_params.dir, given))


def pytest_configure(config: pytest.Config) -> None:
    given = config.getoption("bpgrade")
    if not given:
        return
    path = Path(config.invocation_params.dir, given)
    if not path.exists():
        raise pytest.UsageError("--bpgrade %s: no such file or directory" % given)
    seed = config.getoption("bpgrade_seed")
    rubric, kit = assignment_rubric(config.getoption("bpgrade_rubric"), path, config.invocation_params.dir)
    if kit:
        if seed is not None and seed != kit.get("seed"):
            raise pytest.UsageError("--bpgrade-seed %d: this kit's checks are recorded at its own seed (%s); "
                                    "run without --bpgrade-seed" % (seed, kit.get("seed")))
        seed = kit.get("seed")
    if seed is None:
        from backprop_grader.judge.score import new_seed
        seed = new_seed()
    config.stash[target_key] = Target(path.resolve(), rubric, seed)
    if not config.option.file_or_dir:  # `pytest --bpgrade x`: grade x, nothing else
        config.args[:] = [str(path)]
    elif all(Path(config.invocation_params.dir, a.split("::")[0]).resolve() != path.resolve()
             for a in config.args):
        config.args.append(str(path))


def assignment_rubric(given: str | None, submission: Path, start: str | Path) -> tuple[str | None, dict | None]:
    """(rubric, kit manifest or None): --bpgrade-rubric, else the assignment's own (a
    student kit's, or a rubric.yaml beside the submission or in the working
    directory), else None (the packaged default)."""
    from backprop_grader.kit import find_rubric, kit_for
    if given:
        path = Path(start, given)
        return given, kit_for(path) if path.is_file() else None
    found = find_rubric(submission, Path(start))
    return (str(found.rubric), found.kit) if found else (None, None)


def pytest_report_header(config: pytest.Config) -> str | None:
    t = target(config)
    if t is not None:
        from backprop_grader.report.results import safe_text
        return "bpgrade: %s, rubric %s, seed %d (conftest.py files are not loaded)" % (
            safe_text(t.path.name, one_line=True), safe_text(t.rubric or "gates", one_line=True), t.seed)


def is_target(config: pytest.Config, path: str | Path) -> bool:
    t = target(config)
    return t is not None and Path(path).resolve() == t.path


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Submission | None:
    if file_path.suffix != ".py" and is_target(parent.config, file_path):
        return Submission.from_parent(parent, path=file_path)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Submission | None:
    # A .py submission must never be imported by pytest as a test module.
    if is_target(parent.config, module_path):
        return Submission.from_parent(parent, path=module_path)


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> Submission | None:
    if is_target(parent.config, path):
        return Submission.from_parent(parent, path=path)


class GradingError(Exception):
    """The submission could not be graded (a usage error): shown without a traceback."""


class Failed(Exception):
    """A rubric item that did not pass; args[0] is the feedback."""


class Submission(pytest.File):
    """One submission: its rubric's items, graded together once."""

    def collect(self) -> Iterator[pytest.Item]:
        from backprop_grader.judge import rubric
        t = target(self.config)
        try:
            self.rub = rubric.load(rubric.find(t.rubric))
        except UsageError as exc:
            raise self.CollectError("bpgrade: %s" % exc) from None
        hidden = [i for i in self.rub.items if i.hidden]
        for item in self.rub.items:
            if not item.hidden:
                yield RubricItem.from_parent(self, name=item.id, item=item)
        if hidden:
            yield HiddenItems.from_parent(self, name=HIDDEN_ID, count=len(hidden))

    def setup(self) -> None:
        from backprop_grader import load
        from backprop_grader.report import results as report
        from backprop_grader.judge import score
        t = target(self.config)
        try:
            loaded = load.load(self.path, class_names=list(self.rub.gates))
        except UsageError as exc:
            raise GradingError("bpgrade: %s" % exc) from None
        t.result = score.grade(loaded, self.rub, seed=t.seed)
        self.data = report.gradescope(t.result)
        self.tests = {test["extra_data"]["id"]: test for test in self.data["tests"]}


class BpgradeItem(pytest.Item):
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, (Failed, GradingError)):
            from backprop_grader.report.results import safe_text
            return safe_text(excinfo.value.args[0])
        return super().repr_failure(excinfo, style)


class RubricItem(BpgradeItem):
    def __init__(self, *, item: Item, **kw: Any) -> None:
        super().__init__(**kw)
        self.item = item

    def runtest(self) -> None:
        test = self.parent.tests[self.item.id]
        self.user_properties += [("score", test["score"]), ("max_score", test["max_score"])]
        if test["status"] != "passed":
            raise Failed("%s: %g / %g points\n%s" % (test["name"], test["score"],
                                                     test["max_score"], test["output"]))

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, "%s: %s" % (self.item.id, self.item.name)


class HiddenItems(BpgradeItem):
    def __init__(self, *, count: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.count = count

    def runtest(self) -> None:
        hidden = [t for t in self.parent.data["tests"] if t["visibility"] != "visible"]
        failed = sum(t["status"] != "passed" for t in hidden)
        if failed:
            raise Failed("Hidden checks: %d of %d failed (hidden checks are graded but not "
                         "shown)" % (failed, len(hidden)))

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, "hidden checks (%d)" % self.count


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    t = target(config)
    if t is None or t.result is None:
        return
    from backprop_grader.report.results import messages, safe_text
    for note in messages(t.result):  # what went wrong loading, which file was graded
        terminalreporter.write_line("bpgrade: ! %s" % safe_text(note, one_line=True))
    shown = [r for r in t.result.items if not r.item.hidden]
    hidden = [r for r in t.result.items if r.item.hidden]
    line = "bpgrade: %s: %g / %g on the visible checks" % (
        safe_text(t.result.loaded.path.name, one_line=True), sum(r.score for r in shown),
        sum(r.item.points for r in shown))
    if hidden:
        line += "; hidden checks: %d of %d passed" % (sum(r.outcome.passed for r in hidden),
                                                     len(hidden))
    terminalreporter.write_sep("-", line + " (seed %d)" % t.seed)
