"""Late policy: the rubric's `late:` block (validated, errors name the path), extensions
from a CSV (bad rows name FILE:LINE), the penalty per submission, and raw score and
penalty kept in the gradebook and shown in each export."""
import csv
import datetime
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from backprop_grader import cli as cli_module
from backprop_grader.batch import late
from backprop_grader.judge import rubric

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SECRET = "late-test-secret-0123456789abcdef"
LATE = 'late: {due: "2026-10-01T23:59:00-04:00", grace: "15m", penalty: {per: day, percent: 10, floor: 50}}\n'
EDT = datetime.timezone(datetime.timedelta(hours=-4))


def cli(capsys, *args):
    capsys.readouterr()
    code = cli_module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def policy(**kw):
    base = dict(due=datetime.datetime(2026, 10, 1, 23, 59, tzinfo=EDT), grace=900.0, per="day", percent=10.0,
                floor=50.0)
    base.update(kw)
    return late.Policy(**base)


# ------------------------------------------------------------------ the penalty

@pytest.mark.parametrize("submitted, units, percent", [
    ("2026-10-01T23:00:00-04:00", 0, 0),     # on time
    ("2026-10-02T00:10:00-04:00", 0, 0),     # 11 minutes late: within the 15 minutes' grace
    ("2026-10-02T00:20:00-04:00", 1, 10),    # 21 minutes: one day started
    ("2026-10-02T03:59:00Z", 0, 0),          # the same instant as the due date, in UTC
    ("2026-10-03T23:00:00-04:00", 2, 20),    # nearly 2 days
    ("2026-10-04T00:00:00-04:00", 3, 30),    # 2 days and a minute: 3 days started
    ("2026-10-20T00:00:00-04:00", 19, 50),   # the floor: at least 50% kept
    ("2026-10-02 01:00:00", 1, 10),          # no offset: read in the due date's (-04:00)
])
def test_penalty_per_day_started_after_the_grace(submitted, units, percent):
    p = late.assess(policy(), submitted, None)
    assert (p.units, p.percent) == (units, percent), p.note
    assert p.points(15.0) == pytest.approx(15.0 * percent / 100)


def test_per_hour_and_no_floor():
    p = late.assess(policy(per="hour", percent=5, floor=0, grace=0), "2026-10-02T02:30:00-04:00", None)
    assert (p.units, p.percent) == (3, 15)
    p = late.assess(policy(per="hour", percent=30, floor=0, grace=0), "2026-10-02T05:00:00-04:00", None)
    assert p.percent == 100  # never more than everything


def test_a_late_flag_without_a_time_is_one_unit_late():
    p = late.assess(policy(), "", True)
    assert (p.units, p.percent) == (1, 10) and "no time given" in p.note
    ext = late.Extension("bob", days=2)
    p = late.assess(policy(), "", True, ext)
    assert p.percent == 0 and p.check  # the flag is against the LMS's due date: a TA checks
    assert late.assess(policy(), "", None).percent == 0 and late.assess(policy(), "", False).percent == 0


def test_extensions_move_the_due_date():
    submitted = "2026-10-03T20:00:00-04:00"
    assert late.assess(policy(), submitted, None).percent == 20
    assert late.assess(policy(), submitted, None, late.Extension("a", days=2)).percent == 0
    assert late.assess(policy(), submitted, None, late.Extension("a", days=1)).percent == 10
    new_due = late.Extension("a", due=datetime.datetime(2026, 10, 3, 12, 0, tzinfo=EDT))
    assert late.assess(policy(), submitted, None, new_due).percent == 10


# ------------------------------------------------------------------ bad input: exit 2, naming where

@pytest.mark.parametrize("block, message", [
    ('late: {due: "2026-10-01", penalty: {per: day, percent: 10}}',
     "late.due: '2026-10-01' is not a date and time with a UTC offset"),
    ('late: {due: "2026-10-01T23:59:00Z", grace: "15 min", penalty: {per: day, percent: 10}}',
     "late.grace: '15 min' is not a duration"),
    ('late: {due: "2026-10-01T23:59:00Z", penalty: {per: week, percent: 10}}',
     "late.penalty.per: 'week' is not one of: day, hour"),
    ('late: {due: "2026-10-01T23:59:00Z", penalty: {per: day, percent: 10, floor: 150}}',
     "late.penalty.floor: 150 is greater than the maximum of 100"),
    ('late: {due: "2026-10-01T23:59:00Z", penalty: {per: day, percent: 10, cap: 5}}',
     "late.penalty: unknown key 'cap'"),
    ('late: {due: "2026-10-01T23:59:00Z"}', "late: 'penalty' is a required property"),
])
def test_bad_late_blocks(tmp_path, capsys, block, message):
    rub = tmp_path / "r.yaml"
    rub.write_text(SHORT.read_text() + block + "\n")
    with pytest.raises(rubric.RubricError, match="r.yaml: "):
        rubric.load(rub)
    (tmp_path / "a.py").write_text(GOOD)
    code, _, err = cli(capsys, "batch", tmp_path / "a.py", "--rubric", rub, "--gradebook", tmp_path / "g.sqlite")
    assert code == 2 and message in err and str(rub) in err, err
    assert not (tmp_path / "g.sqlite").exists()


@pytest.mark.parametrize("text, message", [
    ("student,days\nalice,2\nbob,soon\n", "x.csv:3: 'bob': 'soon' is neither a number of days nor a date"),
    ("alice,2,extra\n", "x.csv:1: expected two cells"),
    ("alice,2\nalice,3\n", "x.csv:2: 'alice' already has an extension (%s:1)"),
    ("alice,-1\n", "x.csv:1: 'alice': days must be a number of days >= 0"),
])
def test_bad_extension_rows(tmp_path, capsys, text, message):
    rub = tmp_path / "r.yaml"
    rub.write_text(SHORT.read_text() + LATE)
    (tmp_path / "x.csv").write_text(text)
    (tmp_path / "a.py").write_text(GOOD)
    code, _, err = cli(capsys, "batch", tmp_path / "a.py", "--rubric", rub, "--gradebook", tmp_path / "g.sqlite",
                       "--extensions", tmp_path / "x.csv")
    assert code == 2, err
    assert message.replace("%s", str(tmp_path / "x.csv")) in err, err
    assert not (tmp_path / "g.sqlite").exists()


def test_extensions_need_a_late_policy(tmp_path, capsys):
    (tmp_path / "x.csv").write_text("alice,1\n")
    (tmp_path / "a.py").write_text(GOOD)
    code, _, err = cli(capsys, "batch", tmp_path / "a.py", "--rubric", SHORT, "--gradebook", tmp_path / "g.sqlite",
                       "--extensions", tmp_path / "x.csv")
    assert code == 2 and "has no late: policy" in err


# ------------------------------------------------------------------ graded, and in every export

def gradescope_zip(path):
    """Gradescope export: alice on time, bob 2 days late (21:00 on the 3rd), carol within the grace."""
    subs = [("101", "1001", "Alice A", "2026-10-01 23:00:00.000000000 -04:00", GOOD),
            ("102", "1002", "Bob B", "2026-10-03 21:00:00.000000000 -04:00", GOOD),
            ("103", "1003", "Carol C", "2026-10-02 00:05:00.000000000 -04:00", FORGOT_DZ)]
    meta = "".join(":submission_%s:\n  :submitters:\n  - :name: %s\n    :sid: '%s'\n  :created_at: %s\n"
                   % (n, name, sid, when) for n, sid, name, when, _ in subs)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("e/submission_metadata.yml", meta)
        for n, _, _, _, code in subs:
            zf.writestr("e/submission_%s/gates.py" % n, code)
    return path


@pytest.fixture(scope="module")
def late_class(tmp_path_factory):
    base = tmp_path_factory.mktemp("late")
    (base / "s.secret").write_text(SECRET + "\n")
    rub = base / "rubric.yaml"
    rub.write_text(SHORT.read_text() + LATE)
    archive = gradescope_zip(base / "export.zip")
    code = cli_module.main(["batch", str(archive), "--rubric", str(rub), "--gradebook", str(base / "g.sqlite"),
                            "--secret", str(base / "s.secret"), "-j", "2", "--progress", "none"])
    assert code == 0
    return {"base": base, "gb": base / "g.sqlite", "rubric": rub, "archive": archive}


def penalties(gb):
    db = sqlite3.connect(str(gb))
    db.row_factory = sqlite3.Row
    try:
        return {r["student"]: dict(r) for r in db.execute(
            "SELECT p.*, g.score FROM penalties p JOIN grades g ON g.id = p.grade_id "
            "WHERE g.id IN (SELECT MAX(id) FROM grades GROUP BY student)")}
    finally:
        db.close()


def test_raw_score_and_penalty_in_the_gradebook(late_class):
    p = penalties(late_class["gb"])
    assert sorted(p) == ["1001", "1002", "1003"]
    assert (p["1001"]["score"], p["1001"]["points"]) == (15, 0)
    assert (p["1002"]["score"], p["1002"]["units"], p["1002"]["percent"], p["1002"]["points"]) == (15, 2, 20, 3)
    assert (p["1003"]["score"], p["1003"]["points"]) == (8, 0) and "grace" in p["1003"]["note"]
    assert p["1002"]["due"] == "2026-10-01T23:59:00-04:00"


def test_csv_results_and_lms_files_show_raw_and_penalty(late_class, capsys, tmp_path):
    gb = late_class["gb"]
    code, _, err = cli(capsys, "export", "--gradebook", gb, "--csv", tmp_path / "g.csv", "--results-dir",
                       tmp_path / "res")
    assert code == 0, err
    rows = list(csv.reader((tmp_path / "g.csv").open()))
    assert rows[0][-4:] == ["raw", "late_penalty", "late", "total"]
    body = {r[0]: r for r in rows[1:]}
    assert body["1002"][-4] == "15" and body["1002"][-3] == "3" and body["1002"][-1] == "12"
    assert "2 days started, -20%" in body["1002"][-2]
    assert body["1001"][-3:] == ["0", "on time", "15"]
    res = json.loads((tmp_path / "res" / "1002" / "results.json").read_text())
    assert res["score"] == 12
    assert res["extra_data"]["late"]["raw_score"] == 15 and res["extra_data"]["late"]["penalty"] == 3
    code, _, err = cli(capsys, "export", "--gradebook", gb, "--moodle-csv", tmp_path / "m.csv")
    assert code == 0, err
    moodle = {r[0]: r for r in csv.reader((tmp_path / "m.csv").open())}
    assert moodle["Participant 1002"][4] == "12"
    assert "late penalty -3" in moodle["Participant 1002"][9] and "raw score 15" in moodle["Participant 1002"][9]
    code, _, err = cli(capsys, "export", "--gradebook", gb, "--canvas-csv", tmp_path / "c.csv",
                       "--canvas-assignment", "Backprop (1234)")
    assert code == 0, err
    canvas = {r[1]: r[-1] for r in csv.reader((tmp_path / "c.csv").open())}
    assert canvas["1002"] == "12" and canvas["1001"] == "15"
    assert "1 late penalty applied" in err and "1002 15 - 3 = 12" in err


def test_an_extension_changes_the_penalty_without_regrading(late_class, capsys, tmp_path):
    import shutil
    gb = tmp_path / "g.sqlite"
    shutil.copy(late_class["gb"], gb)
    (tmp_path / "ext.csv").write_text("student,days\n1002,2\nghost,1\n")
    code, out, err = cli(capsys, "batch", late_class["archive"], "--rubric", late_class["rubric"], "--gradebook", gb,
                         "--secret", late_class["base"] / "s.secret", "--extensions", tmp_path / "ext.csv",
                         "--progress", "none")
    assert code == 0, err
    assert "nothing to grade" in out and "0 students penalised" in out
    assert "ext.csv:3: extension for 'ghost'" in err
    p = penalties(gb)
    assert p["1002"]["points"] == 0 and "extension: +2 day(s)" in p["1002"]["note"]


def test_canvas_late_flag_without_a_time(tmp_path, capsys):
    rub = tmp_path / "r.yaml"
    rub.write_text(SHORT.read_text() + LATE)
    (tmp_path / "s.secret").write_text(SECRET + "\n")
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_12345_678901_gates.py", GOOD)
        zf.writestr("leebruce_LATE_23456_678903_gates.py", GOOD)
    code, out, err = cli(capsys, "batch", archive, "--rubric", rub, "--gradebook", tmp_path / "g.sqlite",
                         "--secret", tmp_path / "s.secret", "-j", "2", "--progress", "none")
    assert code == 0, err
    assert "1 student penalised" in out and "23456: marked late by the LMS, no time given" in out
    p = penalties(tmp_path / "g.sqlite")
    assert (p["23456"]["units"], p["23456"]["points"]) == (1, 1.5) and p["12345"]["points"] == 0
