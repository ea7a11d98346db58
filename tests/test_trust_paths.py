"""Untrusted names and files on the batch and packaging paths: student ids from every
source (Gradescope metadata included) are checked in one place and never lead a
per-student file out of its folder; student text printed to a terminal has its control
characters escaped; CSV cells are never formulas; zips have per-student limits counted
while extracting; `pytest --bpgrade` runs no conftest.py or configuration of the
submission's; run_autograder never imports a grader.py from beside the submission."""
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backprop_grader.batch import grading as batch, classlist, gradebook
from backprop_grader.authoring import gradescope
from backprop_grader.report import results as report
from backprop_grader import cli as cli_module

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SECRET = "test-course-secret-0123456789abcdef"
MAX = 15.0  # SHORT's points
BAD_IDS = ["../../x", "/etc/x", "a\0b", "a\nb", "..", ".hidden", "a\x1b[2Jb", "a\u202eb", "x" * 201, " "]


def cli(capsys, *args):
    """`bpgrade ARGS` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli_module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def metadata(sid):
    return ":submission_101:\n  :submitters:\n  - :name: Alice A\n    :sid: %s\n" % json.dumps(sid)


def gradescope_export(path, sid):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("export/submission_metadata.yml", metadata(sid))
        zf.writestr("export/submission_101/gates.py", GOOD)
    return path


# ------------------------------------------------------------------ 1. ids

@pytest.mark.parametrize("sid", ["alice", "1001", "ada@example.edu+bob@example.edu", "Ana María",
                                 "=1+2", "x" * 200])
def test_usable_ids_pass_unchanged(sid):
    assert classlist.check_id(sid) == sid
    assert classlist.check_id("  %s\t" % sid) == sid  # stripped, as before


@pytest.mark.parametrize("sid", BAD_IDS)
def test_unusable_ids_are_refused(sid):
    with pytest.raises(ValueError):
        classlist.check_id(sid)


@pytest.mark.parametrize("sid", ["../../x", "/etc/x", "a\0b", "a\nb", "a\u202eb"])
def test_gradescope_metadata_id_is_a_usage_error(tmp_path, capsys, monkeypatch, sid):
    monkeypatch.setenv("BPGRADE_SECRET", SECRET)
    work = tmp_path / "work"
    work.mkdir()
    archive = gradescope_export(work / "submissions.zip", sid)
    code, out, err = cli(capsys, "batch", archive, "--rubric", SHORT, "--gradebook", work / "g.sqlite",
                         "--results-dir", work / "out")
    assert code == 2
    assert "submission_metadata.yml" in err and "submission_101" in err and "unusable" in err
    assert "Traceback" not in err and "\0" not in err and "\u202e" not in err
    assert err.count("\n") == err.count("\n  ") + 1  # one message, nothing faked after it
    assert files_under(tmp_path) == ["work", "work/g.sqlite", "work/submissions.zip"]


def test_gradescope_ids_alone_raise_and_batch_and_gradescope_agree(tmp_path):
    (tmp_path / classlist.METADATA).write_text(metadata("../x"))
    with pytest.raises(classlist.BatchError, match="submission_101"):
        classlist.gradescope_ids(tmp_path, [])
    users = [{"sid": " 1001 ", "email": "a@x"}, {":email": "b@x"}, {"name": "C"}]
    yml = {":submission_1": {":submitters": [{":" + k.lstrip(":"): v for k, v in u.items()} for u in users]}}
    (tmp_path / classlist.METADATA).write_text(json.dumps(yml))
    from_export = classlist.gradescope_ids(tmp_path, [])["submission_1"]
    assert from_export == gradescope.student_id({"users": users}) == "1001+b@x+C"
    with pytest.raises(gradescope.BadStudentId, match="submission_metadata.json"):
        gradescope.student_id({"users": [{"sid": "../../x"}]})


def test_run_autograder_refuses_a_bad_metadata_id_in_its_results(tmp_path):
    root = autograder_root(tmp_path, {"gates.py": GOOD})
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": "../../x"}]}))
    assert gradescope.run_autograder(root, stream=io.StringIO()) == 1
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "submission_metadata.json" in data["extra_data"]["grader_error"]


def test_list_file_ids_are_checked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BPGRADE_SECRET", SECRET)
    (tmp_path / "a.py").write_text(GOOD)
    listing = tmp_path / "list.txt"
    listing.write_text("../escape\t%s\n" % (tmp_path / "a.py"))
    code, _, err = cli(capsys, "batch", "--list", listing, "--rubric", SHORT, "--gradebook", tmp_path / "g.sqlite")
    assert code == 2 and "list.txt" in err and "'../escape'" in err


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One class graded once: alice, '=1+2' (a formula-like id), bob.zip (a bomb: declares
    4 GB) and a junk file whose name holds escape codes."""
    tmp = tmp_path_factory.mktemp("trust")
    subs = tmp / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(GOOD)
    (subs / "=1+2.py").write_text(FORGOT_DZ)
    declared_bomb(subs / "bob.zip", 0xFFFFFFF0)
    (subs / "junk\x1b[2J\rfake.txt").write_text("not a submission")
    (tmp / "test.secret").write_text(SECRET + "\n")
    stream = io.StringIO()
    rep = batch.run([str(subs)], rubric=str(SHORT), gradebook=str(tmp / "g.sqlite"), jobs=1,
                    secret=str(tmp / "test.secret"), progress="none", stream=stream, csv=str(tmp / "g.csv"))
    return {"tmp": tmp, "report": rep, "log": stream.getvalue(), "gb": tmp / "g.sqlite"}


def tampered(graded, tmp_path, student):
    """A copy of the graded gradebook where alice's id is `student` (an old or edited gradebook)."""
    gb = tmp_path / "g.sqlite"
    shutil.copy(graded["gb"], gb)
    db = sqlite3.connect(str(gb))
    db.execute("UPDATE grades SET student = ? WHERE student = 'alice'", (student,))
    db.commit()
    db.close()
    return gb


@pytest.mark.parametrize("student", ["../../evil", "/tmp/evil", "a/../../evil"])
def test_export_results_dir_refuses_an_id_that_leaves_it(graded, tmp_path, capsys, student):
    gb = tampered(graded, tmp_path, student)
    code, _, err = cli(capsys, "export", "--gradebook", gb, "--results-dir", tmp_path / "deep" / "out")
    assert code == 2 and "g.sqlite" in err and repr(student) in err
    assert files_under(tmp_path) == ["g.sqlite"]  # nothing written, not even the folder
    assert not Path("/tmp/evil").exists()


def test_export_results_dir_refuses_a_link_out_of_it(graded, tmp_path, capsys):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "alice").symlink_to(elsewhere)
    code, _, err = cli(capsys, "export", "--gradebook", graded["gb"], "--results-dir", out)
    assert code == 2 and "outside" in err
    assert list(elsewhere.iterdir()) == []


def test_inside_keeps_paths_in_their_folder(tmp_path):
    assert gradebook.inside(tmp_path, "alice", "results.json") == tmp_path / "alice" / "results.json"
    for parts in [("..", "x"), ("/etc", "x"), ("a\0b",), (".",)]:
        with pytest.raises(gradebook.OutsideFolder):
            gradebook.inside(tmp_path, *parts)


# ------------------------------------------------------------------ 2. terminal output

def test_safe_text_escapes_controls_and_bidi():
    text = "a\x1b[31mb\rc\x9bd\x7fe\u202ef\u2066g\x00h\ud800"
    shown = report.safe_text(text)
    assert shown == "a\\x1b[31mb\\x0dc\\x9bd\\x7fe\\u202ef\\u2066g\\x00h\\ud800"
    assert report.safe_text("x\ny\tz") == "x\ny\tz"
    assert report.safe_text("x\ny\tz", one_line=True) == "x\\x0ay\\x09z"
    assert report.safe_text("Ana María ✅") == "Ana María ✅"


def test_batch_warnings_and_summary_show_no_control_characters(graded, tmp_path, capsys):
    assert "junk\\x1b[2J\\x0dfake.txt" in graded["log"] and "\x1b" not in graded["log"]
    mallory = "mallory\x1b[2K\r  alice: 100\u202e"
    gb = tampered(graded, tmp_path, mallory)
    book = gradebook.Gradebook(gb, create=False)
    try:
        text = batch.summary(batch.Report(graded=3, students=[mallory, "=1+2", "bob"], seconds=1.0),
                             book, book_rubric(), 1, None, None)
    finally:
        book.close()
    assert "mallory\\x1b[2K\\x0d  alice: 100\\u202e" in text and "\x1b" not in text and "\r" not in text
    code, out, err = cli(capsys, "export", "--gradebook", gb)  # CSV to standard output
    assert code == 0 and "\x1b" not in out and "\r" not in out and "mallory\\x1b[2K" in out


def book_rubric():
    from backprop_grader.judge import rubric
    return rubric.load(SHORT)


def test_replay_escapes_what_it_prints(graded, tmp_path):
    gb = tampered(graded, tmp_path, "mallory\x1b[2J")
    db = sqlite3.connect(str(gb))
    db.execute("UPDATE grades SET source = 'subs/\x1b[2Jfake' WHERE student = 'mallory\x1b[2J'")
    db.commit()
    db.close()
    out = io.StringIO()
    batch.replay("mallory\x1b[2J", str(gb), rubric=str(SHORT), secret=str(graded["tmp"] / "test.secret"),
                 out=out)
    assert "replay mallory\\x1b[2J: subs/\\x1b[2Jfake" in out.getvalue() and "\x1b" not in out.getvalue()


def test_usage_error_messages_are_escaped(tmp_path, capsys):
    code, _, err = cli(capsys, "batch", tmp_path / "no\x1b[2Jsuch", "--rubric", SHORT,
                       "--gradebook", tmp_path / "g.sqlite")
    assert code == 2 and "no\\x1b[2Jsuch" in err and "\x1b" not in err


# ------------------------------------------------------------------ 3. CSV

@pytest.mark.parametrize("value, cell", [
    (-1.5, "-1.5"), (12, "12"), (12.0, "12"), (0.0, "0"), ("", ""), ("alice", "alice"),
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1.5", "'-1.5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), (" =x", "' =x"), ("\uff1dx", "'\uff1dx")])
def test_csv_cell(value, cell):
    assert gradebook.csv_cell(value) == cell


def test_csv_from_batch_neutralises_formulas_and_keeps_numbers(graded):
    import csv
    rows = list(csv.reader(io.StringIO((graded["tmp"] / "g.csv").read_text())))
    by_student = {r[0]: r for r in rows[1:]}
    assert "'=1+2" in by_student and "=1+2" not in by_student
    assert by_student["alice"][-1] == "15"
    assert all(not c.startswith("'") for r in rows[1:] for c in r[1:])  # scores stay numbers


# ------------------------------------------------------------------ 4. zips

def declared_bomb(path, declared):
    """A zip whose one member, gates.py, declares `declared` bytes uncompressed."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("gates.py", GOOD)
    data = bytearray(path.read_bytes())
    real = struct.pack("<I", len(GOOD.encode()))
    local, central = 22, data.index(b"PK\x01\x02") + 24
    assert data[local:local + 4] == real and data[central:central + 4] == real
    data[local:local + 4] = data[central:central + 4] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))
    return path


def test_a_bomb_costs_only_its_student(graded):
    rep = graded["report"]
    assert rep.exit_code == 0 and rep.graded == 3
    assert "bob.zip: gates.py is larger than 64 MB; graded as an empty submission" in graded["log"]
    db = sqlite3.connect(str(graded["gb"]))
    got = dict(db.execute("SELECT student, score FROM grades"))
    notes = json.loads(db.execute("SELECT notes FROM grades WHERE student = 'bob'").fetchone()[0])
    db.close()
    assert got == {"alice": MAX, "=1+2": 8.0, "bob": 0.0}
    assert notes == ["bob.zip was not extracted: gates.py is larger than 64 MB"]


def test_student_zip_limits_bytes_declared_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(classlist, "MAX_STUDENT_BYTES", 1 << 20)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(GOOD)
    with zipfile.ZipFile(subs / "bob.zip", "w", zipfile.ZIP_DEFLATED) as zf:  # honest, 3 x 600 kB
        for i in range(3):
            zf.writestr("data%d.bin" % i, bytes(600_000))
    declared_bomb(subs / "carol.zip", 10)  # says 10 bytes, holds more
    with classlist.Inputs([subs]) as found:
        by_id = {e.student: e for e in found.entries}
        assert sorted(by_id) == ["alice", "bob", "carol"]
        assert by_id["bob"].notes == ["bob.zip was not extracted: more than 1 MB uncompressed"]
        assert by_id["carol"].notes[0].startswith("carol.zip was not extracted: cannot extract gates.py")
        for sid in ("bob", "carol"):
            assert list(by_id[sid].path.iterdir()) == []  # nothing of it left on disk
        assert sum(p.stat().st_size for p in found.tmp.rglob("*") if p.is_file()) <= 1 << 20


def test_counting_stops_a_member_that_outgrows_its_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(classlist, "CHUNK", 1000)

    class Endless(io.RawIOBase):  # a member that never ends, whatever it declared
        def readable(self):
            return True

        def readinto(self, b):
            b[:len(b)] = bytes(len(b))
            return len(b)

    class Zip:
        def open(self, info):
            return io.BufferedReader(Endless())

    target = tmp_path / "out" / "big.bin"
    assert classlist.copy_member(Zip(), None, target, 5000, "x.zip", "big.bin") is None
    assert target.stat().st_size <= 5000


def test_member_count_caps(tmp_path, monkeypatch):
    monkeypatch.setattr(classlist, "MAX_STUDENT_MEMBERS", 20)
    monkeypatch.setattr(classlist, "MAX_MEMBERS", 40)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(GOOD)
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        for i in range(50):
            zf.writestr("f%d.py" % i, "")
    with classlist.Inputs([subs]) as found:
        bob = next(e for e in found.entries if e.student == "bob")
        assert bob.notes == ["bob.zip was not extracted: holds 50 files, more than the 20 allowed"]
        assert list(bob.path.iterdir()) == []
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for i in range(41):
            zf.writestr("s%d.py" % i, "")
    with pytest.raises(classlist.BatchError, match="export.zip: holds 41 files, more than the 40 allowed"):
        classlist.Inputs([export])


def test_export_entries_have_their_own_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(classlist, "MAX_STUDENT_BYTES", 1 << 20)
    monkeypatch.setattr(classlist, "MAX_STUDENT_MEMBERS", 30)
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hw/alice/gates.py", GOOD)
        for i in range(3):
            zf.writestr("hw/bob/data%d.bin" % i, bytes(600_000))  # 1.8 MB in all
        zf.writestr("hw/carol.ipynb", bytes(2_000_000))
        for i in range(31):
            zf.writestr("hw/dave/f%d.py" % i, "")
        zf.writestr("hw/erin.py", GOOD)
    with classlist.Inputs([export]) as found:
        by_id = {e.student: e for e in found.entries}
        assert sorted(by_id) == ["alice", "bob", "carol", "dave", "erin"]
        assert by_id["bob"].notes == ["bob was not extracted: more than 1 MB uncompressed"]
        assert by_id["carol"].notes == ["carol.ipynb was not extracted: more than 1 MB uncompressed"]
        assert by_id["dave"].notes == ["dave was not extracted: more than 30 files"]
        for sid in ("bob", "carol", "dave"):
            assert by_id[sid].path.is_dir() and list(by_id[sid].path.iterdir()) == []
        assert (by_id["alice"].path / "gates.py").read_text() == GOOD
        assert by_id["erin"].path.read_text() == GOOD
        assert sum(p.stat().st_size for p in found.tmp.rglob("*") if p.is_file()) < 2 << 20
        assert any("hw/bob: not extracted" in w for w in found.warnings)


# ------------------------------------------------------------------ 5. pytest plugin

HOSTILE_CONFTEST = """
import os, pathlib
pathlib.Path(%r).write_text(os.environ.get("BPGRADE_SECRET", "ran"))

def pytest_runtest_makereport(item, call):
    pass

def pytest_collection_modifyitems(items):
    items.clear()
"""


def run_pytest(cwd, *args):
    env = dict(os.environ, BPGRADE_SECRET=SECRET)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_pytest_bpgrade_never_runs_a_submission_conftest(tmp_path):
    marker = tmp_path / "marker"
    student = tmp_path / "student"
    (student / "sub").mkdir(parents=True)
    (student / "gates.py").write_text(FORGOT_DZ)
    (student / "sub" / "gates.py").write_text(FORGOT_DZ)
    for folder in (student, student / "sub"):
        (folder / "conftest.py").write_text(HOSTILE_CONFTEST % str(marker))
    inside_it = run_pytest(student, "--bpgrade", "gates.py", "--bpgrade-rubric=%s" % SHORT, "--bpgrade-seed", "1")
    pointed = run_pytest(tmp_path, "--bpgrade", "student/sub", "--bpgrade-rubric=%s" % SHORT)
    assert not marker.exists()
    for proc in (inside_it, pointed):
        assert proc.returncode == 1, proc.stdout + proc.stderr  # forgot_dz fails mul-backward
        assert "mul-backward FAILED" in proc.stdout or "FAILED" in proc.stdout
        assert "on the visible checks" in proc.stdout and "conftest.py files are not loaded" in proc.stdout


@pytest.mark.parametrize("name, text", [
    ("pytest.ini", "[pytest]\naddopts = -q\n"),
    ("pyproject.toml", "[tool.pytest.ini_options]\naddopts = '-q'\n"),
    ("tox.ini", "[pytest]\naddopts = -q\n"),
    ("setup.cfg", "[tool:pytest]\naddopts = -q\n"),
])
def test_pytest_bpgrade_refuses_a_submission_configuration(tmp_path, name, text):
    marker = tmp_path / "marker"
    student = tmp_path / "student"
    student.mkdir()
    (student / "gates.py").write_text(GOOD)
    (student / name).write_text(text)
    (student / "conftest.py").write_text(HOSTILE_CONFTEST % str(marker))
    proc = run_pytest(student, "--bpgrade", "gates.py", "--bpgrade-rubric=%s" % SHORT)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and str(student / name) in errors[0] and "configuration" in errors[0]
    assert "Traceback" not in proc.stderr and not marker.exists()


# ------------------------------------------------------------------ 6. run_autograder

HOSTILE_GRADER = "import pathlib\npathlib.Path(%r).write_text('hostile grader ran')\n"


def autograder_root(tmp_path, files):
    """An autograder folder as the package lays it out, with SHORT as the rubric."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    shutil.copy(SHORT, root / "source" / "RUBRIC.yaml")
    (root / "source" / gradescope.SECRET_NAME).write_text(SECRET + "\n")
    (root / "source" / gradescope.CONFIG).write_text(json.dumps(
        {"rubric": "RUBRIC.yaml", "secret": gradescope.SECRET_NAME}))
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    (root / "run_autograder").write_text(gradescope.RUN_AUTOGRADER)
    return root


def test_run_autograder_ignores_a_grader_beside_the_submission(tmp_path):
    marker = tmp_path / "marker"
    hostile = HOSTILE_GRADER % str(marker)
    root = autograder_root(tmp_path, {"gates.py": GOOD, "backprop_grader.py": hostile})
    (root / "submission" / "backprop_grader").mkdir()  # and a package of that name
    (root / "submission" / "backprop_grader" / "__init__.py").write_text(hostile)
    (root / "submission" / "backprop_grader" / "gradescope.py").write_text(hostile)
    sub = root / "submission"
    # the same files do hijack an ordinary `python -m` run from the submission's folder
    plain = subprocess.run([sys.executable, "-m", "backprop_grader.authoring.gradescope", "--help"], cwd=sub,
                           capture_output=True, text=True, timeout=60)
    assert marker.exists(), plain.stderr
    marker.unlink()
    env = dict(os.environ, BPGRADE_AUTOGRADER_ROOT=str(root), BPGRADE_PYTHON=sys.executable,
               PYTHONPATH=str(sub))
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=sub, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not marker.exists()
    assert json.loads((root / "results" / "results.json").read_text())["score"] == MAX


def test_other_entry_points_run_isolated():
    assert '-I -m backprop_grader.authoring.gradescope' in gradescope.RUN_AUTOGRADER
    assert "\ncd /\n" in gradescope.RUN_AUTOGRADER
    assert gradescope.SETUP_SH.count("python\" -I ") == 3
    assert " -m pip" not in gradescope.SETUP_SH.replace("-I -m pip", "")
    for wf in Path(__file__).parent.parent.glob("assignments/*/.github/workflows/*.yml"):
        assert "python -m" not in wf.read_text() and "python -I -m pip" in wf.read_text()
