"""A rubric fix is a normal event: `bpgrade batch` with an edited rubric for the same
assignment regrades into the same gradebook, keeps every rubric version (text and hash)
and every grade, says whose score changed (and `export --changes` writes it), and
`replay` grades with any rubric version the gradebook has seen. A rubric for another
assignment is still refused. Grading uses tests/data/rubrics/batch_short.yaml, copied."""
import csv
import io
import sqlite3
from pathlib import Path

import pytest

from backprop_grader import cli as cli_module
from backprop_grader.batch import grading as batch
from backprop_grader.judge import rubric

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SECRET = "regrade-test-secret-0123456789abcdef"


def cli(capsys, *args):
    capsys.readouterr()
    code = cli_module.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def grade_rows(gb):
    db = sqlite3.connect(str(gb))
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT id, student, score, rubric_sha256 FROM grades ORDER BY id")]
    finally:
        db.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Graded three times: the rubric as given, with a comment added (--regrade), with
    mul-backward worth 6 points instead of 4 (a plain batch run)."""
    base = tmp_path_factory.mktemp("regrade")
    subs = base / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(GOOD)
    (subs / "dave.py").write_text(FORGOT_DZ)
    (base / "s.secret").write_text(SECRET + "\n")
    rub = base / "rubric.yaml"
    text = SHORT.read_text()
    rub.write_text(text)
    gb = base / "g.sqlite"
    kw = dict(rubric=str(rub), gradebook=str(gb), jobs=2, progress="none", secret=str(base / "s.secret"))
    runs = [batch.run([str(subs)], stream=io.StringIO(), **kw)]
    shas = [rubric.load(rub).sha256]
    rub.write_text("# a comment: nothing else changed\n" + text)
    runs.append(batch.run([str(subs)], regrade=True, stream=io.StringIO(), **kw))
    shas.append(rubric.load(rub).sha256)
    fixed = text.replace("{id: mul-backward, gate: MultiplyGate, check: backward, points: 4}",
                         "{id: mul-backward, gate: MultiplyGate, check: backward, points: 6}")
    assert fixed != text
    rub.write_text(fixed)
    log = io.StringIO()
    runs.append(batch.run([str(subs)], stream=log, **kw))
    shas.append(rubric.load(rub).sha256)
    return {"base": base, "gb": gb, "rubric": rub, "runs": runs, "shas": shas, "log": log.getvalue(),
            "fixed": fixed, "text": text}


def test_an_edited_rubric_regrades_into_the_same_gradebook(history):
    runs, shas = history["runs"], history["shas"]
    assert [r.exit_code for r in runs] == [0, 0, 0]
    assert [r.graded for r in runs] == [2, 2, 2]  # the third without --regrade: a new version grades again
    rows = grade_rows(history["gb"])
    assert [r["rubric_sha256"] for r in rows] == [shas[0]] * 2 + [shas[1]] * 2 + [shas[2]] * 2
    scores = {(r["student"], r["rubric_sha256"]): r["score"] for r in rows}
    assert scores[("alice", shas[0])] == scores[("alice", shas[1])] == 15
    assert scores[("alice", shas[2])] == 17  # mul-backward is worth 6 now
    assert scores[("dave", shas[2])] == 8  # dave fails mul-backward: no change


def test_every_rubric_version_is_kept_with_its_text(history):
    db = sqlite3.connect(str(history["gb"]))
    kept = dict(db.execute("SELECT sha256, text FROM rubrics"))
    meta = dict(db.execute("SELECT key, value FROM meta"))
    db.close()
    assert set(kept) == set(history["shas"])
    assert kept[history["shas"][2]] == history["fixed"]
    assert kept[history["shas"][0]] == history["text"]
    assert meta["rubric_sha256"] == history["shas"][2] and float(meta["max_score"]) == 17


def test_the_summary_says_who_changed(history):
    comment_only, fixed = history["runs"][1], history["runs"][2]
    assert comment_only.rubric_change == tuple(history["shas"][:2])
    assert "scores changed for 0 students" in comment_only.text
    assert [c["student"] for c in fixed.changes] == ["alice"]
    assert "rubric changed: %s -> %s; scores changed for 1 student" % (
        history["shas"][1][:12], history["shas"][2][:12]) in fixed.text
    assert "  alice: 15 -> 17 (rubric %s -> %s)" % (history["shas"][1][:12], history["shas"][2][:12]) in fixed.text
    assert "the rubric changed" in history["log"]


def test_export_changes_csv(history, capsys, tmp_path):
    target = tmp_path / "changes.csv"
    code, _, err = cli(capsys, "export", "--gradebook", history["gb"], "--changes", target)
    assert code == 0, err
    assert "1 student whose score a rubric change changed" in err
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["student", "old_score", "new_score", "change", "old_rubric", "new_rubric",
                       "old_graded_at", "new_graded_at"]
    assert rows[1][:6] == ["alice", "15", "17", "2", history["shas"][1][:12], history["shas"][2][:12]]
    assert len(rows) == 2


def test_replay_with_the_recorded_and_an_older_rubric_version(history, capsys):
    gb, shas = history["gb"], history["shas"]
    history["rubric"].write_text(history["fixed"] + "# edited again, not graded with\n")
    try:  # the file no longer has the recorded hash: the kept text is used
        code, out, err = cli(capsys, "replay", "alice", "--gradebook", gb, "--secret", history["base"] / "s.secret")
        assert code == 0, out + err
        assert "identical: score 17 / 17" in out and "kept in the gradebook" in out
        code, out, err = cli(capsys, "replay", "alice", "--gradebook", gb, "--rubric-version", shas[0][:10],
                             "--secret", history["base"] / "s.secret")
        assert code == 1, out + err
        assert "rubric %s" % shas[0][:12] in out and "another rubric version" in out
        assert "score: recorded 17, now 15" in out
        code, out, err = cli(capsys, "replay", "alice", "--gradebook", gb, "--rubric-version", "ffff")
        assert code == 2 and "no rubric version 'ffff'" in err
    finally:
        history["rubric"].write_text(history["fixed"])
    assert not list(history["rubric"].parent.glob(".bpgrade-rubric-*"))  # the kept text's file is gone


def test_a_rubric_for_another_assignment_is_refused(history, capsys):
    before = grade_rows(history["gb"])
    code, out, err = cli(capsys, "batch", history["base"] / "subs", "--gradebook", history["gb"], "--rubric", "gates",
                         "--secret", history["base"] / "s.secret")
    assert code == 2
    assert "made with another rubric, for another assignment" in err and "'batch-demo'" in err
    assert grade_rows(history["gb"]) == before
