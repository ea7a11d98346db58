"""bpgrade batch / export / replay: discovery, the gradebook, seeds, resume, Dask.

Most tests share one graded class (module fixture). Grading uses the short
rubric tests/data/rubrics/batch_short.yaml (15 points; a hang costs <= 2 s to
load, 1 s per call, 10 s in all).
"""
import csv
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from backprop_grader.batch import grading as batch, classlist, executors, gradebook, pool
from backprop_grader.judge import rubric, seeds
from backprop_grader import tempdirs
from backprop_grader import cli as cli_module

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
ROOT = Path(__file__).parent.parent
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SYNTAX_ERROR = (DATA / "syntax_error.py").read_text()
HANG_LOAD = "while True:\n    pass\n"
HANG_CALL = GOOD.replace("return x * y", "while True:\n            pass")
CRASH_LOAD = "import ctypes\nctypes.string_at(0)\n"  # SIGSEGV while loading
SLOW_GOOD = "import time\ntime.sleep(0.25)\n" + GOOD
SECRET = "test-course-secret-0123456789abcdef"
ENV = dict(os.environ, BPGRADE_SECRET=SECRET)
MAX = 15.0
FORGOT_DZ_SCORE = 8.0  # MultiplyGate.backward ignores dz: both forwards and add-backward pass
ITEMS = ["mul-forward", "mul-backward", "add-forward", "add-backward", "graph-random"]


def notebook(source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Gates"), nbformat.v4.new_code_cell(source),
                nbformat.v4.new_code_cell("g = MultiplyGate()\ng.forward(-2, 5)")]
    return nbformat.writes(nb)


def write(folder, files):
    """files: {relative path: text}."""
    for rel, text in files.items():
        p = Path(folder) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return Path(folder)


def run_batch(inputs, gb, **kw):
    kw.setdefault("rubric", str(SHORT))
    kw.setdefault("jobs", 2)
    kw.setdefault("progress", "lines")
    stream = io.StringIO()
    report = batch.run([str(p) for p in inputs], gradebook=str(gb), stream=stream,
                       secret=kw.pop("secret", None) or str(secret_file(Path(gb).parent)), **kw)
    report.log = stream.getvalue()
    return report


def secret_file(folder):
    p = Path(folder) / "test.secret"
    if not p.exists():
        p.write_text(SECRET + "\n")
        p.chmod(0o600)
    return p


def rows(gb):
    db = sqlite3.connect(str(gb))
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM grades ORDER BY id")]
    finally:
        db.close()


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def cli(*args, cwd=None, env=ENV, timeout=120):
    return subprocess.run([sys.executable, "-m", "backprop_grader", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def main(capsys, *args):
    """`bpgrade ARGS` in this process (fast); returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli_module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ the class graded once

CLASS = {
    "alice.py": GOOD,
    "bob.py": GOOD,
    "carol.ipynb": notebook(GOOD),
    "dave.py": FORGOT_DZ,
    "erin/gates.py": GOOD,                    # a folder submission
    "frank.ipynb": notebook(GOOD),  # notebook + module: several files, one graded
    "frank.py": "SCALE = 1.0  # a helper module\n",
    "gina.py": SYNTAX_ERROR,
    "notes.txt": "not a submission",
}
STUDENTS = ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    subs = write(base / "subs", CLASS)
    gb = base / "grades.sqlite"
    report = run_batch([subs], gb, csv=base / "grades.csv", results_dir=base / "results")
    return {"base": base, "subs": subs, "gb": gb, "report": report, "rows": rows(gb),
            "csv": read_csv(base / "grades.csv")}


def test_batch_grades_every_student_once(graded):
    report = graded["report"]
    assert report.exit_code == 0
    assert report.graded == len(STUDENTS) and report.skipped == 0
    assert sorted(r["student"] for r in graded["rows"]) == STUDENTS
    assert "notes.txt" in report.log  # skipped entries are reported


def test_gradebook_row_fields(graded):
    rub = rubric.load(SHORT)
    for row in graded["rows"]:
        path = graded["subs"] / (row["student"] + ".py")
        if row["student"] == "alice":
            assert row["file_sha256"] == classlist.submission_hash(path)
            assert row["source"].endswith("alice.py")
        assert row["rubric_sha256"] == rub.sha256
        assert row["seed"] == seeds.seed(SECRET.encode(), "batch-demo", row["student"])
        assert row["max_score"] == MAX
        checks = json.loads(row["checks"])
        assert [c["id"] for c in checks] == ITEMS
        assert row["score"] == sum(c["score"] for c in checks)
        assert row["duration"] > 0
        assert isinstance(row["isolation_tier"], int)
        assert row["grader_version"]
        assert row["graded_at"].endswith("+00:00")
        assert row["error"] == ""
        assert row["submission"] is not None
        results = json.loads(row["results"])
        assert results["score"] == row["score"]
        assert results["extra_data"]["seed"] == row["seed"]


def test_scores(graded):
    score = {r["student"]: r["score"] for r in graded["rows"]}
    for s in ("alice", "bob", "carol", "erin", "frank"):
        assert score[s] == MAX, s
    assert score["dave"] == FORGOT_DZ_SCORE
    assert score["gina"] == 0


def test_several_files_are_graded_together_and_reported(graded):
    frank = next(r for r in graded["rows"] if r["student"] == "frank")
    assert json.loads(frank["notes"]) == ["2 files were submitted: frank.ipynb, frank.py"]
    results = json.loads(frank["results"])
    assert results["extra_data"]["submission"] == "frank.ipynb"  # the file that defines the gates
    assert "2 files were submitted" in results["output"]
    assert "students with several files: 1" in graded["report"].text
    assert "frank: 2 files were submitted: frank.ipynb, frank.py; graded frank.ipynb" \
        in graded["report"].text


def test_csv_contents(graded):
    table = graded["csv"]
    assert table[0] == ["student"] + ITEMS + ["total"]
    body = {r[0]: r[1:] for r in table[1:]}
    assert sorted(body) == STUDENTS
    assert body["alice"] == ["2", "4", "2", "4", "3", "15"]
    for s, cells in body.items():
        assert float(cells[-1]) == sum(float(c) for c in cells[:-1]), s
    assert body["dave"] == ["2", "0", "2", "4", "0", "8"]
    assert body["gina"] == ["0"] * 6


def test_results_dir_one_results_json_per_student(graded):
    folder = graded["base"] / "results"
    assert sorted(p.name for p in folder.iterdir()) == STUDENTS
    for row in graded["rows"]:
        data = json.loads((folder / row["student"] / "results.json").read_text())
        assert data == json.loads(row["results"])


def test_summary(graded):
    text = graded["report"].text
    scores = sorted(r["score"] for r in graded["rows"])
    mean = sum(scores) / len(scores)
    assert "7 students: mean %.4g, median 15 (of 15); zeros: 1" % mean in text
    assert "errors: 0" in text
    assert "slowest:" in text
    assert text.count("\n  ") >= 5  # five slowest listed


def test_plain_progress_lines_when_not_a_terminal(graded):
    lines = [line for line in graded["report"].log.splitlines() if " graded, " in line]
    assert lines and lines[-1].startswith("bpgrade: 7/7 graded, ")
    assert "/s, " in lines[-1] and "left" in lines[-1]


def test_progress_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    bar = batch.Progress(4, out, "auto")
    assert bar.mode == "bar"
    for _ in range(4):
        bar.update(None)
    bar.close()
    text = out.getvalue()
    assert "4/4" in text and "/s" in text


def test_export_from_the_gradebook(graded, tmp_path):
    r = cli("export", "--gradebook", graded["gb"], "--csv", tmp_path / "out.csv",
            "--results-dir", tmp_path / "res")
    assert r.returncode == 0, r.stderr
    assert read_csv(tmp_path / "out.csv") == graded["csv"]
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == STUDENTS
    r = cli("export", "--gradebook", graded["gb"])  # CSV to standard output
    assert list(csv.reader(io.StringIO(r.stdout))) == graded["csv"]


# ------------------------------------------------------------------ rerun, --regrade

def copy_class(graded, tmp_path):
    shutil.copytree(graded["subs"], tmp_path / "subs")
    shutil.copy(graded["gb"], tmp_path / "grades.sqlite")
    shutil.copy(secret_file(graded["base"]), secret_file(tmp_path))
    return tmp_path / "subs", tmp_path / "grades.sqlite"


def test_rerun_skips_unchanged_submissions(graded, tmp_path):
    subs, gb = copy_class(graded, tmp_path)
    report = run_batch([subs], gb)
    assert (report.graded, report.skipped) == (0, len(STUDENTS))
    assert "nothing to grade: all 7 submissions are already graded" in report.text
    assert rows(gb) == graded["rows"]
    # A changed file is graded again; the rest are skipped.
    (subs / "dave.py").write_text(GOOD)
    report = run_batch([subs], gb, csv=tmp_path / "g.csv")
    assert (report.graded, report.skipped) == (1, len(STUDENTS) - 1)
    after = rows(gb)
    assert after[:len(graded["rows"])] == graded["rows"]
    assert [r["student"] for r in after[len(graded["rows"]):]] == ["dave"]
    body = {r[0]: r[-1] for r in read_csv(tmp_path / "g.csv")[1:]}
    assert body["dave"] == "15" and len(body) == len(STUDENTS)  # latest submission per student


def test_regrade_grades_everything_again(graded, tmp_path):
    subs, gb = copy_class(graded, tmp_path)
    report = run_batch([subs], gb, regrade=True, csv=tmp_path / "g.csv")
    assert (report.graded, report.skipped) == (len(STUDENTS), 0)
    after = rows(gb)
    assert len(after) == 2 * len(STUDENTS)
    key = lambda r: r["student"]  # noqa: E731
    for old, new in zip(sorted(graded["rows"], key=key), sorted(after[len(STUDENTS):], key=key)):
        assert (new["student"], new["seed"], new["score"], new["file_sha256"]) == \
            (old["student"], old["seed"], old["score"], old["file_sha256"])
        assert new["id"] > old["id"]
    assert read_csv(tmp_path / "g.csv") == graded["csv"]  # one row per student, same grades


# ------------------------------------------------------------------ replay

def test_replay_reproduces_a_graded_run(graded, capsys):
    for student in ("dave", "carol", "frank"):
        code, out, err = main(capsys, "replay", student, "--gradebook", graded["gb"],
                              "--secret", secret_file(graded["base"]))
        assert code == 0, out + err
        assert "identical: score" in out
        assert "the seed is HMAC-SHA256 of the course secret" in out
        assert out.count(" same ") == len(ITEMS)


def test_replay_notices_a_different_seed(graded, tmp_path):
    gb = tmp_path / "grades.sqlite"
    shutil.copy(graded["gb"], gb)
    db = sqlite3.connect(str(gb))
    with db:
        db.execute("UPDATE grades SET seed = seed + 1 WHERE student = 'dave'")
    db.close()
    out = io.StringIO()
    code = batch.replay("dave", gb, secret=secret_file(graded["base"]), out=out)
    assert code == 1
    assert "DIFFERENT" in out.getvalue()
    assert "not the one the course secret" in out.getvalue()


def test_replay_unknown_student(graded, capsys):
    code, out, err = main(capsys, "replay", "nobody", "--gradebook", graded["gb"])
    assert code == 2
    assert "no grades for 'nobody'" in err and "alice" in err


# ------------------------------------------------------------------ seeds

def test_seeds_reproducible_per_student_and_different_between_students():
    key = b"k" * 32
    assert seeds.seed(key, "hw1", "alice") == seeds.seed(key, "hw1", "alice")
    many = {seeds.seed(key, "hw1", "s%03d" % i) for i in range(500)}
    assert len(many) == 500
    assert seeds.seed(key, "hw1", "alice") != seeds.seed(key, "hw2", "alice")
    assert seeds.seed(key, "hw1", "alice") != seeds.seed(b"other" * 8, "hw1", "alice")
    assert seeds.seed(key, "ab", "c") != seeds.seed(key, "a", "bc")
    assert all(0 <= s < 2 ** 63 for s in many)
    import hashlib
    import hmac
    expected = int.from_bytes(hmac.new(key, b"hw1\0alice", hashlib.sha256).digest()[:8], "big") >> 1
    assert seeds.seed(key, "hw1", "alice") == expected


def test_secret_created_once_with_mode_0600(tmp_path):
    gb = tmp_path / "g.sqlite"
    first = seeds.load(gradebook=gb, environ={})
    path = tmp_path / "course.secret"
    assert first.created and first.origin == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.key) >= 32
    again = seeds.load(gradebook=gb, environ={})
    assert not again.created and again.key == first.key
    other = seeds.load(gradebook=tmp_path / "elsewhere" / "g.sqlite", environ={})
    assert other.key != first.key


def test_secret_sources_in_order(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("from-a-file-0123456789\n")
    f.chmod(0o600)
    env = {seeds.ENV_SECRET: "from-the-environment-0123", seeds.ENV_SECRET_FILE: str(f)}
    assert seeds.load(secret_file=f, gradebook=tmp_path / "g", environ=env).key == b"from-a-file-0123456789"
    assert seeds.load(gradebook=tmp_path / "g", environ=env).key == b"from-the-environment-0123"
    del env[seeds.ENV_SECRET]
    assert seeds.load(gradebook=tmp_path / "g", environ=env).key == b"from-a-file-0123456789"
    assert not (tmp_path / "course.secret").exists()
    with pytest.raises(seeds.SecretError, match="no such secret file"):
        seeds.load(secret_file=tmp_path / "missing", environ={})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(seeds.SecretError, match="empty"):
        seeds.load(secret_file=tmp_path / "empty", environ={})


def test_same_secret_same_seeds_other_secret_other_seeds(tmp_path):
    subs = write(tmp_path / "subs", {"alice.py": GOOD, "bob.py": GOOD})
    a = tmp_path / "a"
    b = tmp_path / "b"
    c = tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    (c / "test.secret").write_text("a-different-course-secret-000000\n")
    for d in (a, b, c):
        run_batch([subs], d / "g.sqlite", secret=secret_file(d))
    seeds_of = {d: {r["student"]: r["seed"] for r in rows(d / "g.sqlite")} for d in (a, b, c)}
    assert seeds_of[a] == seeds_of[b]
    assert seeds_of[a]["alice"] != seeds_of[a]["bob"]
    assert seeds_of[c]["alice"] != seeds_of[a]["alice"]


# ------------------------------------------------------------------ inputs

def test_zip_export_from_an_lms(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hw1_export/alice.py", GOOD)
        zf.writestr("hw1_export/bob/gates.py", FORGOT_DZ)
        zf.writestr("hw1_export/carol.ipynb", notebook(GOOD))
        zf.writestr("__MACOSX/hw1_export/._alice.py", "junk")
        zf.writestr("hw1_export/../../evil.py", GOOD)  # never extracted outside
    report = run_batch([archive], tmp_path / "g.sqlite")
    got = {r["student"]: (r["score"], r["source"]) for r in rows(tmp_path / "g.sqlite")}
    assert got == {"alice": (MAX, "export.zip:hw1_export/alice.py"),
                   "bob": (FORGOT_DZ_SCORE, "export.zip:hw1_export/bob"),
                   "carol": (MAX, "export.zip:hw1_export/carol.ipynb")}
    assert report.exit_code == 0
    assert not (tmp_path.parent / "evil.py").exists()
    again = run_batch([archive], tmp_path / "g.sqlite")  # extracted anew: same hashes, skipped
    assert (again.graded, again.skipped) == (0, 3)


def test_gradescope_export_ids_from_metadata(tmp_path):
    archive = tmp_path / "submissions.zip"
    meta = (":submission_101:\n  :submitters:\n  - :name: Alice A\n    :sid: '1001'\n"
            "    :email: alice@example.edu\n  :score: 0.0\n"
            ":submission_102:\n  :submitters:\n  - :name: Bob B\n    :email: bob@example.edu\n")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("assignment_9_export/submission_metadata.yml", meta)
        zf.writestr("assignment_9_export/submission_101/gates.py", GOOD)
        zf.writestr("assignment_9_export/submission_102/gates.ipynb", notebook(FORGOT_DZ))
    with classlist.Inputs([archive]) as found:
        assert [(e.student, e.source) for e in found.entries] == [
            ("1001", "submissions.zip:assignment_9_export/submission_101"),
            ("bob@example.edu", "submissions.zip:assignment_9_export/submission_102")]


def test_student_zip_inside_a_class_folder(tmp_path):
    subs = write(tmp_path / "subs", {"alice.py": GOOD})
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        zf.writestr("gates.py", GOOD)
    with classlist.Inputs([subs]) as found:
        got = {e.student: e.path for e in found.entries}
        assert sorted(got) == ["alice", "bob"]
        assert (got["bob"] / "gates.py").read_text() == GOOD


def test_id_pattern_groups_lms_files_per_student(tmp_path):
    subs = write(tmp_path / "subs", {
        "doejane_12345_678_gates.ipynb": notebook("from helpers import *"),
        "doejane_12345_679_helpers.py": GOOD,
        "roejohn_late_23456_680_gates.py": GOOD,
    })
    with classlist.Inputs([subs], id_pattern=r"^(?P<id>[a-z]+)_(late_)?\d+_\d+_") as found:
        by_id = {e.student: e for e in found.entries}
        assert sorted(by_id) == ["doejane", "roejohn"]
        jane = by_id["doejane"]
        # grouped as one folder, under the names the student gave the files
        assert sorted(p.name for p in jane.path.iterdir()) == ["gates.ipynb", "helpers.py"]
        assert jane.notes == ["2 files were submitted: doejane_12345_678_gates.ipynb, "
                              "doejane_12345_679_helpers.py"]
        assert by_id["roejohn"].path.name == "roejohn_late_23456_680_gates.py"
        task = pool.Task("doejane", str(jane.path), 1, jane.notes)
        assert pool.grade_task(task, str(SHORT)).score == MAX  # the notebook imports helpers.py


def test_list_of_paths_and_list_file(tmp_path):
    write(tmp_path, {"a/alice.py": GOOD, "b/bob/gates.py": GOOD, "c/x.py": GOOD})
    with classlist.Inputs([tmp_path / "a/alice.py", tmp_path / "b/bob"]) as found:
        assert [(e.student, e.path) for e in found.entries] == [
            ("alice", tmp_path / "a/alice.py"), ("bob", tmp_path / "b/bob")]
    listing = tmp_path / "list.txt"
    listing.write_text("# id<TAB>path, or a path\ncarol\t%s\n%s\n" % (tmp_path / "c/x.py",
                                                                       tmp_path / "a/alice.py"))
    with classlist.Inputs(list_file=listing) as found:
        assert [e.student for e in found.entries] == ["alice", "carol"]


# ------------------------------------------------------------------ bad input

def test_bad_input_messages(tmp_path, graded, capsys, monkeypatch):
    monkeypatch.setenv(seeds.ENV_SECRET, SECRET)
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    dup = write(tmp_path / "dup", {"alice.py": GOOD, "alice/gates.py": GOOD})
    gb = tmp_path / "g.sqlite"
    cases = [
        (["batch", tmp_path / "broken.zip"], "broken.zip: not a readable zip file"),
        (["batch", tmp_path / "empty"], "no submissions found"),
        (["batch", dup], "duplicate student id(s): 'alice' from"),
        (["batch", tmp_path / "a/x.py", tmp_path / "b/x.py"], "duplicate student id(s): 'x'"),
        (["batch", graded["subs"], "--gradebook", graded["gb"], "--rubric", "gates"],
         "made with another rubric"),
        (["batch", dup, "--id-pattern", "("], "not a valid regular expression"),
        (["batch", graded["subs"], "--id-pattern", "^b"], "does not match 7 name(s)"),
        (["batch", tmp_path / "missing"], "missing: no such file or directory"),
    ]
    write(tmp_path, {"a/x.py": GOOD, "b/x.py": GOOD})
    for args, message in cases:
        args = args + ([] if "--gradebook" in args else ["--gradebook", gb])
        args = args + ([] if "--rubric" in args else ["--rubric", SHORT])
        code, out, err = main(capsys, *args)
        assert code == 2, (args, err)
        assert message in err, (message, err)
    assert rows(graded["gb"]) == graded["rows"]  # the other rubric's run changed nothing


def test_a_truncated_zip_member(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice.py", GOOD * 50)
    data = bytearray(good.read_bytes())
    data[40:200] = bytes(160)  # damage the compressed data, keep the directory
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(batch.BatchError, match="bad.zip: (cannot extract alice.py|not a readable zip)"):
        classlist.Inputs([bad])


def test_not_a_gradebook(tmp_path):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(str(other))
    db.execute("CREATE TABLE students (name TEXT)")
    db.close()
    (tmp_path / "text.sqlite").write_text("hello, not a database at all" * 10)
    rub = rubric.load(SHORT)
    with pytest.raises(gradebook.GradebookError, match="not a bpgrade gradebook"):
        gradebook.Gradebook(other, rubric=rub)
    with pytest.raises(gradebook.GradebookError, match="not a bpgrade gradebook"):
        gradebook.Gradebook(tmp_path / "text.sqlite", rubric=rub)
    with pytest.raises(gradebook.GradebookError, match="no such gradebook"):
        gradebook.Gradebook(tmp_path / "none.sqlite", create=False)


def test_full_disk_keeps_what_was_graded(tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # forked workers see it
    subs = write(tmp_path / "subs", {"s%02d.py" % i: GOOD for i in range(8)})
    gb = tmp_path / "g.sqlite"
    record = gradebook.Gradebook.record
    calls = []

    def tight(self, *args, **kw):  # the database may grow by a few pages only: SQLITE_FULL
        if not calls:
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute("PRAGMA max_page_count = %d" % (pages + 3))
        calls.append(1)
        return record(self, *args, **kw)

    monkeypatch.setattr(gradebook.Gradebook, "record", tight)
    report = run_batch([subs], gb, csv=tmp_path / "g.csv")
    monkeypatch.setattr(gradebook.Gradebook, "record", record)
    assert report.exit_code == 1
    assert "database or disk is full" in report.stopped
    assert "are saved" in report.stopped and "stopped:" in report.text
    kept = rows(gb)
    assert 0 < len(kept) < 8 and len(kept) == report.graded
    assert not (tmp_path / "g.csv").exists()
    assert "not graded yet: %d students" % (8 - len(kept)) in report.text
    assert list((tmp_path / "tmp").glob("bpgrade-*")) == []  # stopped workers' folders too
    # room again: the same command grades the rest
    report = run_batch([subs], gb, csv=tmp_path / "g.csv")
    assert (report.graded, report.skipped) == (8 - len(kept), len(kept))
    assert rows(gb)[:len(kept)] == kept
    assert len(read_csv(tmp_path / "g.csv")) == 9


def test_a_grader_failure_is_reported_and_retried(tmp_path, monkeypatch):
    from backprop_grader.judge import score
    subs = write(tmp_path / "subs", {"alice.py": GOOD, "bob.py": GOOD, "carol.py": GOOD})
    gb = tmp_path / "g.sqlite"
    real = score.grade

    def flaky(loaded, *args, **kw):
        if loaded.path.stem == "bob":
            raise RuntimeError("internal grader fault")
        return real(loaded, *args, **kw)

    monkeypatch.setattr(score, "grade", flaky)
    report = run_batch([subs], gb, jobs=1, csv=tmp_path / "g.csv")  # jobs=1: in this process
    monkeypatch.setattr(score, "grade", real)
    assert report.exit_code == 1
    assert report.errors == [("bob", "RuntimeError: internal grader fault")]
    assert "errors: 1" in report.text and "bob: RuntimeError: internal grader fault" in report.text
    table = {r[0]: r[1:] for r in read_csv(tmp_path / "g.csv")[1:]}
    assert table["bob"] == [""] * 6  # no grade, rather than a zero the student did not earn
    assert table["alice"][-1] == "15"
    report = run_batch([subs], gb, jobs=1, csv=tmp_path / "g.csv")
    assert (report.graded, report.skipped, report.exit_code) == (1, 2, 0)
    assert {r[0]: r[-1] for r in read_csv(tmp_path / "g.csv")[1:]}["bob"] == "15"


# ------------------------------------------------------------------ hangs, crashes, kill -9

def test_ten_percent_hang_or_crash_the_rest_intact(tmp_path):
    files = {}
    for i in range(27):
        files["s%02d.py" % i] = FORGOT_DZ if i % 3 == 0 else GOOD
    files["s27.py"] = HANG_LOAD
    files["s28.py"] = HANG_CALL
    files["s29.py"] = CRASH_LOAD
    subs = write(tmp_path / "subs", files)
    gb = tmp_path / "g.sqlite"
    report = run_batch([subs], gb, csv=tmp_path / "g.csv")
    got = {r["student"]: r for r in rows(gb)}
    assert sorted(got) == sorted(Path(f).stem for f in files)
    assert report.graded == 30 and report.errors == []
    for i in range(27):
        expected = FORGOT_DZ_SCORE if i % 3 == 0 else MAX
        assert got["s%02d" % i]["score"] == expected, i
        assert got["s%02d" % i]["error"] == ""
    assert got["s27"]["score"] == 0
    assert "did not finish within 2 s" in got["s27"]["results"]
    assert "did not return within 1 s" in got["s28"]["results"]
    assert got["s28"]["score"] < MAX
    assert got["s29"]["score"] == 0
    assert "SIGSEGV" in got["s29"]["results"]
    assert len(read_csv(tmp_path / "g.csv")) == 31


def test_resume_after_kill_9(tmp_path):
    n = 24
    subs = write(tmp_path / "subs", {"s%02d.py" % i: SLOW_GOOD for i in range(n)})
    gb = tmp_path / "g.sqlite"
    tmp = tmp_path / "tmp"  # the system's temporary folder, for both runs
    tmp.mkdir()
    env = dict(ENV, TMPDIR=str(tmp))
    args = [sys.executable, "-m", "backprop_grader", "batch", str(subs), "--gradebook", str(gb),
            "--rubric", str(SHORT), "-j", "2", "--progress", "lines"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if gb.exists():
                try:
                    if len(rows(gb)) >= 3:
                        break
                except sqlite3.DatabaseError:
                    pass
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    before = rows(gb)
    assert 3 <= len(before) < n
    left = sorted(tmp.glob("bpgrade-*"))  # kill -9 skips cleanup: the grader's folders stay
    assert {re.sub(r"-\d+-\w+$", "", p.name) for p in left} == {"bpgrade-batch", "bpgrade-boot",
                                                                 "bpgrade-forkserver"}
    pids = {int(tempdirs.LEFTOVER.fullmatch(p.name).group(1)) for p in left}
    deadline = time.monotonic() + 30  # the workers go with the batch, a moment later
    while any(tempdirs.running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in left:  # as if an hour had passed: the next run removes them
        os.utime(p, (time.time() - tempdirs.STALE, time.time() - tempdirs.STALE))
    r = cli("batch", subs, "--gradebook", gb, "--rubric", SHORT, "-j", "2", "--progress", "none",
            env=env)
    assert r.returncode == 0, r.stderr
    assert list(tmp.glob("bpgrade-*")) == []  # nor does a finished batch leave any
    assert "skipped %d already graded" % len(before) in r.stdout  # the summary is on stdout
    after = rows(gb)
    assert after[:len(before)] == before  # nothing lost
    assert sorted(x["student"] for x in after) == ["s%02d" % i for i in range(n)]  # none twice
    assert all(x["score"] == MAX for x in after)


# ------------------------------------------------------------------ Dask

def test_dask_executor_on_a_local_cluster(graded, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")  # submissions cross the wire
        report = run_batch([graded["subs"]], tmp_path / "g.sqlite", executor="dask",
                           scheduler=cluster.scheduler_address, csv=tmp_path / "g.csv",
                           secret=secret_file(graded["base"]))
    assert report.exit_code == 0 and report.graded == len(STUDENTS)
    assert read_csv(tmp_path / "g.csv") == graded["csv"]  # the same grades as local workers
    local = {r["student"]: r for r in graded["rows"]}
    for row in rows(tmp_path / "g.sqlite"):
        old = local[row["student"]]
        assert (row["seed"], row["file_sha256"], row["checks"]) == \
            (old["seed"], old["file_sha256"], old["checks"])


def test_grade_task_from_several_threads():
    """Dask workers run tasks in threads: grading must not depend on one at a time.

    (executors.remote_grade serializes gradings per worker process until this passes.)"""
    import threading
    out = {}

    def work(i):
        out[i] = pool.grade_task(pool.Task("s%d" % i, str(DATA / "good.py"), i), str(SHORT))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(out[i].error, out[i].score) for i in range(4)] == [("", MAX)] * 4


def test_a_dying_worker_costs_only_what_it_was_grading(monkeypatch, tmp_path):
    """A worker process that dies (a grader bug, the OOM killer) loses only the
    submission it was grading; a new worker takes over the rest. Its temporary
    folders go too."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # workers are forked: they see it
    real = pool.grade_task

    def grade_task(task, rubric_path, *rest):
        if task.student == "crash":
            os._exit(3)
        return real(task, rubric_path, *rest)

    monkeypatch.setattr(pool, "grade_task", grade_task)  # workers are forked: they see it
    tasks = [pool.Task(s, str(DATA / "good.py"), i)
             for i, s in enumerate(["a", "b", "crash", "c", "d", "e", "f"])]
    out = list(pool.grade_all(tasks, str(SHORT), jobs=2, threads=1))
    assert sorted(g.task.student for g in out) == sorted(t.student for t in tasks)
    by = {g.task.student: g for g in out}
    assert by["crash"].error == "the grader's worker process died" and by["crash"].score == 0
    assert all((g.error, g.score) == ("", MAX) for s, g in by.items() if s != "crash")
    assert list(tmp_path.glob("bpgrade-*")) == []


def test_a_hanging_submission_does_not_hold_its_workers_place(tmp_path):
    """One grading per worker (threads=1): each worker starts on a submission whose
    forward spins (1 s per call, several calls). Once the call is found slow and
    moved to the lowest priority, the worker takes the next submission, so every
    honest one is graded before either hang ends."""
    subs = write(tmp_path / "subs", {"hang0.py": HANG_CALL, "hang1.py": HANG_CALL,
                                     **{"good%d.py" % i: GOOD for i in range(6)}})
    names = ["hang0", "hang1"] + ["good%d" % i for i in range(6)]  # the hangs go first
    tasks = [pool.Task(name, str(subs / (name + ".py")), i) for i, name in enumerate(names)]
    order = [g.task.student for g in pool.grade_all(tasks, str(SHORT), jobs=2, threads=1)]
    assert sorted(order[:6]) == ["good%d" % i for i in range(6)], order
    assert sorted(order[6:]) == ["hang0", "hang1"]


def test_a_dask_chunk_returns_without_waiting_for_a_slow_one(tmp_path, monkeypatch):
    """A Dask task grades a chunk of submissions in turn; one found slow keeps its
    thread, the rest go on in a new one, and the task returns once the others are
    done, with a token for the slow one: `remote_later` (sent to the same worker)
    gives its result when it ends. A hang never holds back its chunk-mates."""
    subs = write(tmp_path / "subs", {"hang.py": HANG_CALL, **{"good%d.py" % i: GOOD for i in range(3)}})
    names = ["hang", "good0", "good1", "good2"]
    payloads = [{"student": n, "seed": i, "notes": [], "blob": classlist.pack(str(subs / (n + ".py")))}
                for i, n in enumerate(names)]
    ended, real = [], executors.remote_grade

    def remote_grade(payload, bundle, on_slow=lambda: None):
        out = real(payload, bundle, on_slow)
        ended.append(payload["student"])
        return out
    monkeypatch.setattr(executors, "remote_grade", remote_grade)
    answers = executors.remote_grade_all(payloads, executors.rubric_bundle(SHORT))
    assert sorted(ended) == ["good0", "good1", "good2"], ended  # returned before the hang ended
    assert [a[0]["score"] for a in answers[1:]] == [MAX] * 3
    assert set(answers[0]) == {"later", "worker"} and answers[0]["worker"] is None  # (not on a Dask worker)
    (late,) = executors.remote_later(answers[0]["later"])
    assert ended[-1] == "hang" and late[0]["score"] < MAX  # the hang costs its gate's items only
    assert "did not return within" in json.dumps(late[0]), late[0]
    assert answers[0]["later"] not in executors._Later.waiting
    with pytest.raises(LookupError, match="the worker that was grading it is gone"):
        executors.remote_later(answers[0]["later"])  # (asked of a worker that does not have it)


def test_a_grader_fault_in_a_dask_chunk_costs_that_submission_only(tmp_path, monkeypatch):
    subs = write(tmp_path / "subs", {"a.py": GOOD, "b.py": GOOD, "c.py": GOOD})
    payloads = [{"student": n, "seed": i, "notes": [], "blob": classlist.pack(str(subs / (n + ".py")))}
                for i, n in enumerate("abc")]
    real = executors.remote_grade

    def remote_grade(payload, bundle, on_slow=lambda: None):
        if payload["student"] == "b":
            raise RuntimeError("a grader bug")
        return real(payload, bundle, on_slow)
    monkeypatch.setattr(executors, "remote_grade", remote_grade)
    answers = executors.remote_grade_all(payloads, executors.rubric_bundle(SHORT))
    assert answers[1] == {"error": "RuntimeError: a grader bug"}
    assert [answers[0][0]["score"], answers[2][0]["score"]] == [MAX, MAX]


def test_dask_unreachable_scheduler(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT", "1s")
    subs = write(tmp_path / "subs", {"alice.py": GOOD})
    with pytest.raises(batch.BatchError, match="cannot reach the Dask scheduler"):
        run_batch([subs], tmp_path / "g.sqlite", executor="dask", scheduler="tcp://127.0.0.1:9")
