"""LMS exports in, LMS gradebook files out.

Each export is built here as its LMS builds it: names as Canvas's content_zipper.rb,
Moodle's mod/assign downloader.php, Blackboard's "Download assignment" and
Brightspace's "Download" write them, zipped with zipfile. No --id-pattern anywhere:
the LMS is recognised by its naming.
"""
import csv
import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from backprop_grader import cli as cli_module
from backprop_grader.batch import classlist, grading as batch, lms_names

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SECRET = "test-course-secret-0123456789abcdef"
MAX = 15.0
FORGOT_DZ_SCORE = 8.0


def notebook(source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    return nbformat.writes(nb)


def make_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def found(path, **kw):
    with classlist.Inputs([path], **kw) as f:
        return {e.student: e for e in f.entries}, list(f.warnings), {
            e.student: sorted(p.name for p in e.path.iterdir()) if e.path.is_dir() else e.path.name
            for e in f.entries}


def skips(warnings):
    return sorted(w.split(": skipped: ")[0].rpartition(":")[2] for w in warnings if ": skipped: " in w)


def cli(capsys, *args):
    capsys.readouterr()
    code = cli_module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ Canvas

CANVAS = {  # sortable name lowercased without non-word characters, LATE, user id, attachment id, name
    "doejane_12345_678901_gates.ipynb": notebook("from helpers import *"),
    "doejane_12345_678902_helpers.py": GOOD,
    "leebruce_LATE_23456_678903_gates.py": FORGOT_DZ,
    "smithann_34567_text.html": "<html><body>my answer is in the text box</body></html>",
    "ngtom_45678_link.html": "<html>redirect</html>",
    "okaforchi_56789_678904_report.pdf": "%PDF-1.4",
    "LATE_anon_x7Qp2_678905_gates.py": GOOD,  # anonymous grading: no name, anon_ID
}


def test_canvas_export_ids_grouping_late_and_skips(tmp_path):
    entries, warnings, files = found(make_zip(tmp_path / "course-hw1 submissions.zip", CANVAS))
    assert sorted(entries) == ["12345", "23456", "anon_x7Qp2"]
    jane = entries["12345"]
    assert files["12345"] == ["gates.ipynb", "helpers.py"]  # grouped under the student's own names
    assert (jane.lms, jane.display, jane.late) == ("canvas", "doejane", False)
    assert jane.fields == {"canvas_user_id": "12345", "canvas_attachment_id": "678901,678902"}
    assert entries["23456"].late is True and entries["anon_x7Qp2"].late is True
    assert skips(warnings) == ["ngtom_45678_link.html", "okaforchi_56789_678904_report.pdf",
                               "smithann_34567_text.html"]
    assert any("a Canvas export" in w for w in warnings)


def test_id_pattern_still_overrides(tmp_path):
    entries, _, _ = found(make_zip(tmp_path / "c.zip", {k: v for k, v in CANVAS.items() if "anon" not in k}),
                          id_pattern=r"^(?P<id>[a-z]+)_")
    assert "doejane" in entries and "12345" not in entries


# ------------------------------------------------------------------ Moodle

MOODLE_FOLDERS = {  # Moodle >= 4.1: a folder per student and plugin
    "Jane Doe_1234570_assignsubmission_file/gates.ipynb": notebook("from helpers import *"),
    "Jane Doe_1234570_assignsubmission_file/helpers.py": GOOD,
    "Bruce Lee_1234571_assignsubmission_file/gates.py": FORGOT_DZ,
    "Bruce Lee_1234571_assignsubmission_onlinetext/onlinetext.html": "<p>see my file</p>",
    "Ann Smith_1234572_assignsubmission_onlinetext/onlinetext.html": "<p>only text</p>",
}


def test_moodle_folders_with_online_text(tmp_path):
    """The issue's case: with no pattern, the online-text folder was a second student scored 0."""
    entries, warnings, files = found(make_zip(tmp_path / "CS101-Backprop-42.zip", MOODLE_FOLDERS))
    assert sorted(entries) == ["1234570", "1234571"]
    assert files["1234570"] == ["gates.ipynb", "helpers.py"]
    assert (entries["1234571"].display, entries["1234571"].lms) == ("Bruce Lee", "moodle")
    assert skips(warnings) == ["Ann Smith_1234572_assignsubmission_onlinetext",
                               "Bruce Lee_1234571_assignsubmission_onlinetext"]


def test_moodle_3x_folders_and_flat_files(tmp_path):
    old = {k.replace("_file/", "_file_/").replace("_onlinetext/", "_onlinetext_/"): v
           for k, v in MOODLE_FOLDERS.items()}
    entries, warnings, _ = found(make_zip(tmp_path / "old.zip", old))
    assert sorted(entries) == ["1234570", "1234571"] and len(skips(warnings)) == 2
    flat = {k.replace("_file/", "_file_").replace("_onlinetext/", "_onlinetext_"): v
            for k, v in MOODLE_FOLDERS.items()}  # "download submissions in folders" off
    entries, warnings, files = found(make_zip(tmp_path / "flat.zip", flat))
    assert files == {"1234570": ["gates.ipynb", "helpers.py"],
                     "1234571": "Bruce Lee_1234571_assignsubmission_file_gates.py"}
    assert len(skips(warnings)) == 2


# ------------------------------------------------------------------ Blackboard

def bb_info(name, user, when, files):
    listing = "".join("\tOriginal filename: %s\n\tFilename: HW 1_%s_attempt_%s_%s\n" % (f, user, when, f)
                      for f in files)
    return ("Name: %s (%s)\nAssignment: HW 1\nDate Submitted: Monday, 6 May 2024 10:30:00 o'clock BST\n"
            "Current Grade: Needs Grading\n\nSubmission Field:\nThere is no student submission text data "
            "for this assignment.\n\nComments:\nThere are no student comments for this assignment.\n\n"
            "Files:\n%s" % (name, user, listing))


def test_blackboard_usernames_attempts_and_info_files(tmp_path):
    t1, t2 = "2024-05-06-10-30-00", "2024-05-07-09-00-00"
    members = {
        "HW 1_jdoe_attempt_%s.txt" % t1: bb_info("Jane Doe", "jdoe", t1, ["gates.py"]),
        "HW 1_jdoe_attempt_%s_gates.py" % t1: FORGOT_DZ,
        "HW 1_jdoe_attempt_%s.txt" % t2: bb_info("Jane Doe", "jdoe", t2, ["gates.py"]),
        "HW 1_jdoe_attempt_%s_gates.py" % t2: GOOD,  # the later attempt is graded
        "HW 1_bruce_lee_attempt_%s.txt" % t1: bb_info("Bruce Lee", "bruce_lee", t1, ["gates.py", "notes.docx"]),
        "HW 1_bruce_lee_attempt_%s_gates.py" % t1: GOOD,
        "HW 1_bruce_lee_attempt_%s_notes.docx" % t1: "docx",
    }
    entries, warnings, _ = found(make_zip(tmp_path / "gradebook_HW1.zip", members))
    assert sorted(entries) == ["bruce_lee", "jdoe"]  # a username with '_', from the .txt
    jane = entries["jdoe"]
    assert (jane.display, jane.submitted_at, jane.lms) == ("Jane Doe", "2024-05-07T09:00:00", "blackboard")
    assert jane.source == "gradebook_HW1.zip:HW 1_jdoe_attempt_%s_gates.py" % t2
    assert skips(warnings) == ["HW 1_bruce_lee_attempt_%s_notes.docx" % t1, "HW 1_jdoe_attempt_%s_gates.py" % t1]


# ------------------------------------------------------------------ Brightspace (D2L)

def test_d2l_files_and_folders(tmp_path):
    members = {
        "index.html": "<html>submissions</html>",
        "101-2001 - Doe, Jane - May 6, 2024 1030 AM - gates.ipynb": notebook("from helpers import *"),
        "101-2002 - Doe, Jane - May 6, 2024 1030 AM - helpers.py": GOOD,
        "102-2003 - Lee, Bruce - May 5, 2024 1159 PM - gates.py": FORGOT_DZ,
        "102-2004 - Lee, Bruce - May 5, 2024 1159 PM - essay.docx": "docx",
    }
    entries, warnings, files = found(make_zip(tmp_path / "HW 1 Download May 8, 2024 1201 PM.zip", members))
    assert sorted(entries) == ["Doe, Jane", "Lee, Bruce"]
    assert files["Doe, Jane"] == ["gates.ipynb", "helpers.py"]
    assert entries["Lee, Bruce"].submitted_at == "2024-05-05T23:59:00"
    assert skips(warnings) == ["102-2004 - Lee, Bruce - May 5, 2024 1159 PM - essay.docx"]  # index.html: silent
    folders = {"101-2001 - Doe, Jane - May 6, 2024 1030 AM/gates.py": GOOD, "index.html": "<html/>",
               "102-2003 - Lee, Bruce - May 5, 2024 1159 PM/gates.py": GOOD}
    entries, _, files = found(make_zip(tmp_path / "folders.zip", folders))
    assert files == {"Doe, Jane": ["gates.py"], "Lee, Bruce": ["gates.py"]}


def test_gradescope_created_at(tmp_path):
    meta = (":submission_101:\n  :submitters:\n  - :name: Alice A\n    :sid: '1001'\n"
            "  :created_at: 2024-05-06 10:30:00.000000000 -07:00\n")
    entries, _, _ = found(make_zip(tmp_path / "s.zip", {"e/submission_metadata.yml": meta,
                                                         "e/submission_101/gates.py": GOOD}))
    assert entries["1001"].lms == "gradescope"
    assert entries["1001"].submitted_at.startswith("2024-05-06")


def test_plain_folders_are_no_lms(tmp_path):
    assert lms_names.detect([("alice.py", False), ("bob", True), ("carol.ipynb", False)]) is None


# ------------------------------------------------------------------ graded, and grades out

@pytest.fixture(scope="module")
def moodle_graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("moodle")
    (base / "s.secret").write_text(SECRET + "\n")
    archive = make_zip(base / "moodle.zip", MOODLE_FOLDERS)
    stream = io.StringIO()
    report = batch.run([str(archive)], rubric=str(SHORT), gradebook=str(base / "g.sqlite"), jobs=2,
                       progress="lines", stream=stream, secret=str(base / "s.secret"))
    return base, report, stream.getvalue()


def test_moodle_export_grades_and_reports_skips(moodle_graded):
    base, report, log = moodle_graded
    assert report.exit_code == 0 and report.graded == 2
    assert "Bruce Lee_1234571_assignsubmission_onlinetext: skipped: online text, not a file" in log


def test_moodle_worksheet(moodle_graded, capsys):
    base, _, _ = moodle_graded
    out = base / "worksheet.csv"
    code, _, err = cli(capsys, "export", "--gradebook", base / "g.sqlite", "--moodle-csv", out)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum grade",
                       "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                       "Feedback comments"]
    body = {r[0]: r for r in rows[1:]}
    assert sorted(body) == ["Participant 1234570", "Participant 1234571"]
    assert body["Participant 1234570"][1:7] == ["Jane Doe", "", "Submitted for grading", "15", "15", "Yes"]
    assert body["Participant 1234571"][4] == "8"
    assert body["Participant 1234571"][8].endswith("+00:00")  # ISO 8601: PHP's strtotime reads it
    assert body["Participant 1234571"][9].startswith("bpgrade: 8 / 15; lost points: mul-backward 0/4")


def test_canvas_csv_from_a_canvas_export(tmp_path, capsys):
    (tmp_path / "s.secret").write_text(SECRET + "\n")
    archive = make_zip(tmp_path / "c.zip", {"doejane_12345_678901_gates.py": GOOD,
                                            "leebruce_LATE_23456_678903_gates.py": FORGOT_DZ,
                                            "smithann_34567_text.html": "<p/>"})
    gb = tmp_path / "g.sqlite"
    code, out, err = cli(capsys, "batch", archive, "--gradebook", gb, "--rubric", SHORT, "-j", "2",
                         "--secret", tmp_path / "s.secret", "--progress", "lines")
    assert code == 0, err
    assert "graded 2 submissions" in out and "graded 2" not in err  # the summary on stdout
    assert "smithann_34567_text.html: skipped: a text entry, not a file" in err
    target = tmp_path / "canvas.csv"
    code, out, err = cli(capsys, "export", "--gradebook", gb, "--canvas-csv", target,
                         "--canvas-assignment", "Backprop (1234)")
    assert code == 0 and out == "", err
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (1234)"],
                    ["    Points Possible", "", "", "", "", "15"],
                    ["doejane", "12345", "", "", "", "15"],
                    ["leebruce", "23456", "", "", "", "8"]]
    code, _, err = cli(capsys, "export", "--gradebook", gb, "--canvas-csv", target)
    assert code == 2 and "--canvas-assignment" in err


def test_canvas_csv_cells_are_never_formulas(tmp_path, capsys):
    from backprop_grader.batch import gradebook
    from backprop_grader.report import lms
    (tmp_path / "s.secret").write_text(SECRET + "\n")
    archive = make_zip(tmp_path / "c.zip", {"doejane_12345_678901_gates.py": GOOD})
    batch.run([str(archive)], rubric=str(SHORT), gradebook=str(tmp_path / "g.sqlite"), jobs=1,
              progress="none", stream=io.StringIO(), secret=str(tmp_path / "s.secret"))
    book = gradebook.Gradebook(tmp_path / "g.sqlite", create=False)
    try:
        book.db.execute("UPDATE students SET name = '=HYPERLINK(\"x\")'")
        book.db.commit()
        text, _ = lms.canvas_csv(book, "=Backprop (1234)")
    finally:
        book.close()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-1] == "'=Backprop (1234)" and rows[2][0] == "'=HYPERLINK(\"x\")"
    assert json.dumps(rows)  # plain cells
