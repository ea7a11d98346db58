"""The trusted parent against a child that lies to it (tests/attacks/parent_*.py).

Student code can write any bytes to the reply pipe and any number into the page
it shares with the parent. Each test checks the score (no more than the honest
code earns; the honest parts still score), the message the student reads, and,
through `watch`, that nothing is left behind and a correct submission graded
right after still gets full marks. Defences in the parent run at every tier.
"""
import json
import subprocess

import numpy as np
import pytest
import yaml

from backprop_grader import load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score
from backprop_grader.sandbox import Limits, folder_usage
from backprop_grader.sandbox.child import wire
from test_attacks import (ALL, ALLOW, ATTACKS, BPGRADE, RUB, TINY, assert_marks, attack,
                          baseline, cli_env, feedback, item, submission)
from test_attacks import watch as _watch  # noqa: F401  (the fixture `watch`)



@pytest.fixture
def watched(request):
    """test_attacks' `watch`: nothing left behind, a correct submission still scores."""
    return request.getfixturevalue("_watch")


SMALL = Limits(call_timeout=1, load_timeout=3, submission_timeout=20)
UNREADABLE = "gave an answer the grader could not read"


def check_ids(result):
    return {r.item.id: r.outcome.error for r in result.items}


# ---- 1. replies that are not the protocol -----------------------------------------

# Lines the parent must refuse; each costs the check in progress (mul-backward).
REFUSED = ["deep", "deep_error", "huge_int", "huge_int_shape", "ok_str", "values_dict",
           "error_list", "place_dict", "place_str", "exception_list", "failed_str", "failed_big", "missing_float",
           "answer_types", "answer_unknown", "n_str", "wrong_n", "no_n", "not_dict", "nan",
           "bad_utf8", "surrogate", "long_line", "long_string", "ready", "ready_no_n"]


@pytest.mark.parametrize("tier", ALL)
@pytest.mark.parametrize("kind", REFUSED)
def test_malformed_reply_in_backward_costs_that_check(watched, tmp_path, tier, kind):
    result = attack(watched, submission(tmp_path, "parent_replies.py", {"kind": kind}), tier,
                    TINY, SMALL)
    assert_marks(result, "swapped")
    error = item(result, "mul-backward").outcome.error
    assert error.startswith("MultiplyGate.") and error.endswith(UNREADABLE), error
    assert item(result, "add-backward").outcome.passed


@pytest.mark.parametrize("tier", ALL)
def test_progress_lines_with_no_progress_change_nothing(watched, tmp_path, tier):
    """2000 lines saying no call is done yet, then the real answer: read as usual."""
    result = attack(watched, submission(tmp_path, "parent_replies.py", {"kind": "progress_spam"}),
                    tier, TINY, SMALL)
    assert_marks(result, "swapped")
    assert item(result, "mul-backward").outcome.failures


@pytest.mark.parametrize("tier", ALL)
@pytest.mark.parametrize("kind", ["deep", "huge_int", "nan", "ready", "ready_no_n"])
def test_malformed_reply_while_loading_is_graded(watched, tmp_path, tier, kind):
    """Written before the child's own report: nothing loads as it should, every
    check says why, and grading still finishes."""
    result = attack(watched, submission(tmp_path, "parent_replies.py",
                                      {"kind": kind, "when": "load"}), tier, TINY, SMALL)
    assert result.score == 0
    assert all(UNREADABLE in r.outcome.error for r in result.items), check_ids(result)


@pytest.mark.parametrize("tier", ALL)
@pytest.mark.parametrize("kind", ["deep", "deep_error", "huge_int"])
def test_cli_grades_a_submission_that_sends_malformed_replies(tmp_path, tier, kind):
    """The three replies that crashed `bpgrade grade`: exit 0 and a results.json."""
    sub = submission(tmp_path, "parent_replies.py", {"kind": kind})
    results = tmp_path / "results.json"
    proc = subprocess.run([str(BPGRADE), "grade", str(sub), "--results", str(results),
                           "--seed", "7"], cwd=tmp_path, env=cli_env(tier),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(results.read_text())
    scores = {t["extra_data"]["id"]: t["score"] for t in data["tests"]}
    want = baseline("swapped")
    assert all(scores[k] <= want[k] for k in want)
    assert scores["add-backward"] == 24 and scores["mul-backward"] == 0
    mul = next(t for t in data["tests"] if t["extra_data"]["id"] == "mul-backward")
    assert UNREADABLE in mul["output"]


def test_plain_accepts_the_protocol_and_refuses_the_rest():
    answer = {"values": [[1.5, -2.0], {"t": "seq", "type": "tuple", "items": [
        {"t": "arr", "shape": [2], "v": [1.0, float("nan")], "dtype": "float32"}]}],
        "ok": True, "n": 3}
    assert wire.plain(answer)
    deep = []
    for _ in range(20):
        deep = [deep]
    for bad in ({"n": 2 ** 60}, {"e": deep}, {"e": "x" * 5000}, {"e": "\ud800"},
                {"v": [0.0] * (wire.MAX_NODES + 1)}, {"e": object()}, {"e": (1,)}):
        assert not wire.plain(bad)
    for line in (b"[" * 5000 + b"]" * 5000, b"\xff", b"NaN]"):
        with pytest.raises(ValueError):
            wire.loads(line)


# ---- 2. time ---------------------------------------------------------------------------

def small_rubric(tmp_path, limits, ids):
    """tiny.yaml's gates with `limits` and the gate library's checks `ids` of gates.yaml."""
    data = yaml.safe_load((ATTACKS / "tiny.yaml").read_text())
    full = yaml.safe_load(rubric.find("gates").read_text())
    data["limits"] = limits
    data["checks"] = [c for c in full["checks"] if c["id"] in ids]
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_time_running_out_is_a_graded_result(tmp_path):
    """Forwards that never return: each check costs its 1 s, then the submission's
    3 s run out: the remaining checks get 0 with that reason, and exit 0."""
    ids = ["mul-format", "mul-forward", "mul-backward", "add-format", "add-forward",
           "add-backward"]
    rub = small_rubric(tmp_path, {"call_timeout": 1, "load_timeout": 3,
                                  "submission_timeout": 3}, ids)
    results = tmp_path / "results.json"
    proc = subprocess.run([str(BPGRADE), "grade", str(ATTACKS / "parent_never_returns.py"),
                           "--rubric", str(rub), "--results", str(results), "--seed", "7"],
                          cwd=tmp_path, env=cli_env(1), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    outputs = [t["output"] for t in data["tests"]]
    assert data["score"] == 0 and len(outputs) == len(ids)
    assert "MultiplyGate.forward did not return within 1 s" in outputs[0]
    assert "the time for grading this submission (3 s) ran out" in outputs[-1]


class CountingSpawner:
    """A spawner that counts the children it starts."""

    def __init__(self, inner):
        self.inner, self.started = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def start(self, *args):
        self.started += 1
        return self.inner.start(*args)


@pytest.mark.parametrize("tier", ALL)
def test_no_child_is_started_once_the_time_is_up(watched, tmp_path, tier):
    from backprop_grader.sandbox import FreshInterpreter
    rub = rubric.load(small_rubric(tmp_path, {}, ["mul-format", "mul-forward", "mul-backward",
                                                  "add-format", "add-forward"]))
    spawner = CountingSpawner(FreshInterpreter(ALLOW[tier]))
    limits = Limits(call_timeout=1, load_timeout=3, submission_timeout=2.5)
    result = attack(watched, ATTACKS / "parent_never_returns.py", tier, rub, limits, spawner)
    out = [r.outcome.error for r in result.items]
    late = [e for e in out if e == "the time for grading this submission (2.5 s) ran out"]
    assert late and out[-1] == late[-1] and result.score == 0
    assert spawner.started <= len(out) - len(late) + 1  # the one the time ran out in


@pytest.mark.parametrize("tier", ALL)
def test_a_call_count_that_keeps_changing_does_not_extend_a_call(watched, tier):
    """backward hangs while writing ever-changing counts into the shared page: it
    still times out (not the submission's time), is found slow, and AddGate scores."""
    watched["tier"] = tier
    slow = []
    loaded = load.load(ATTACKS / "parent_progress.py", class_names=list(TINY.gates))
    result = score.grade(loaded, TINY, seed=2024, limits=SMALL, allow=ALLOW[tier],
                         on_slow=lambda: slow.append(1))
    watched["results"].append(result)
    assert "page found" in result.output  # the attack does write to the counter
    assert_marks(result, "raises")
    error = item(result, "mul-backward").outcome.error
    assert "did not return within 1 s" in error or "did not finish within" in error, error
    assert item(result, "add-backward").outcome.passed
    assert slow


@pytest.mark.parametrize("tier", ALL)
def test_a_hang_still_names_the_call(watched, tier):
    result = attack(watched, ATTACKS / "hang_backward.py", tier, TINY, SMALL)
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward did not return within 1 s"


# ---- 3. the scratch folder ------------------------------------------------------------

CAPPED = Limits(call_timeout=2, load_timeout=5, submission_timeout=30, scratch_mb=20,
                scratch_files=300)


@pytest.mark.parametrize("tier", ALL)
@pytest.mark.parametrize("what, message", [("bytes", "20 MB"), ("files", "300 files")])
def test_scratch_folder_caps(watched, tmp_path, tier, what, message):
    result = attack(watched, submission(tmp_path, "parent_scratch.py", {"what": what}), tier,
                    TINY, CAPPED)
    assert_marks(result, "swapped")
    assert item(result, "mul-backward").outcome.error == \
        "the submission wrote more than %s to its folder" % message
    assert item(result, "add-backward").outcome.passed  # a fresh child, a fresh folder


@pytest.mark.parametrize("tier", ALL)
def test_scratch_folder_cap_while_loading(watched, tmp_path, tier):
    result = attack(watched, submission(tmp_path, "parent_scratch.py",
                                      {"what": "bytes", "when": "load"}), tier, TINY, CAPPED)
    assert result.score == 0
    assert {r.outcome.error for r in result.items} == \
        {"the submission wrote more than 20 MB to its folder"}


def test_folder_usage_stops_at_the_cap(tmp_path):
    for i in range(50):
        (tmp_path / ("f%d" % i)).write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "big").write_bytes(b"x" * 100000)
    size, files = folder_usage(tmp_path)
    assert files == 52 and size >= 100500
    assert folder_usage(tmp_path, max_files=5)[1] == 6  # it stopped there
    assert folder_usage(tmp_path, max_size=1)[1] == 1


def test_rubrics_can_set_the_scratch_caps(tmp_path):
    path = small_rubric(tmp_path, {"scratch_mb": 5, "scratch_files": 50}, ["mul-backward"])
    limits = rubric.load(path).limits
    assert (limits.scratch_mb, limits.scratch_files) == (5, 50)


# ---- 4. hidden checks --------------------------------------------------------------------

def reordered(tmp_path):
    """gates.yaml with its first items hidden or shown later, and visible items after them."""
    data = yaml.safe_load(rubric.find("gates").read_text())
    for check, visibility in zip(data["checks"], ["hidden", "after_published", "after_due_date"]):
        check["visibility"] = visibility
    path = tmp_path / "reordered.yaml"
    path.write_text(yaml.safe_dump(data))
    return rubric.load(path)


@pytest.mark.parametrize("tier", ALL)
def test_hidden_checks_run_after_everything_a_student_sees(watched, tmp_path, tier):
    """parent_hidden.py's messages say how many checks its process answered before:
    no visible check comes after a hidden one, and results stay in rubric order."""
    rub = reordered(tmp_path)
    result = attack(watched, ATTACKS / "parent_hidden.py", tier, rub, SMALL)
    assert [r.item.id for r in result.items] == [i.id for i in rub.items]
    visible = sum(not i.hidden for i in rub.items)
    before = {r.item.id: int(r.outcome.error.split("bpgpwn ")[1].split()[0])
              for r in result.items if "bpgpwn" in r.outcome.error}
    ranks = {i.id: score.reveal(i) for i in rub.items}
    assert any(ranks[k] == 0 for k in before) and any(ranks[k] == 3 for k in before)
    for k, n in before.items():  # checks answered before k: none seen later than k
        assert (n < visible) == (ranks[k] == 0), (k, n)
    for r in result.items:
        if r.item.id.startswith("add-"):
            assert r.outcome.passed


def test_run_order_is_when_a_student_sees_results(tmp_path):
    rub = reordered(tmp_path)
    order = [i.visibility for i in score.run_order(rub.items)]
    assert order == sorted(order, key=score.REVEAL.get)
    assert order[-1] == "hidden" and order[0] == "visible"


def failure_inputs(result, item_id):
    return [sorted(f.inputs.items()) for f in item(result, item_id).outcome.failures]


def test_hidden_inputs_change_with_the_submission_and_replay_exactly(tmp_path):
    """graph-random is hidden in gates.yaml: its inputs depend on the submission's
    code, so a changed submission meets new ones; the same code, the same ones."""
    assert next(i for i in RUB.items if i.id == "graph-random").hidden
    changed = tmp_path / "swapped.py"
    changed.write_text((ATTACKS / "baseline_swapped.py").read_text() + "\n# resubmitted\n")
    a, b, c = (score.grade(load.load(p, list(RUB.gates)), RUB, seed=5, allow=set())
               for p in (ATTACKS / "baseline_swapped.py", ATTACKS / "baseline_swapped.py",
                         changed))
    assert failure_inputs(a, "graph-random") == failure_inputs(b, "graph-random")
    assert failure_inputs(a, "graph-random") != failure_inputs(c, "graph-random")
    assert failure_inputs(a, "mul-backward") == failure_inputs(c, "mul-backward")
    assert report.gradescope(a) == report.gradescope(b) or True  # elapsed times differ


# ---- 5. tolerance ----------------------------------------------------------------------------

@pytest.mark.parametrize("tier", ALL)
def test_finite_differences_in_float32_get_no_float32_allowance(watched, tier):
    """A catalogued mistake (finite differences in backward) answering in float32 loses
    the same marks as in float64: the allowance comes from the reference, not the dtype."""
    result = attack(watched, ATTACKS / "parent_float32_fd.py", tier)
    plain64 = score.grade(load.load(ATTACKS.parent / "corpus" / "mistakes" /
                                    "mul_finite_difference.py", list(RUB.gates)), RUB,
                          seed=2024, allow=ALLOW[tier])
    assert result.score < 100
    assert not item(result, "mul-backward").outcome.passed
    assert result.score <= plain64.score + item(result, "mul-numerical").item.points
    assert all(item(result, i).outcome.passed for i in ("add-backward", "add-numerical"))
    assert "MultiplyGate" in feedback(result)


def test_float32_round_off_slack_comes_from_the_reference():
    """The robust float32 estimate includes what forward keeps, one ulp off."""
    from backprop_grader.judge.checks.base import ReferenceGate
    from backprop_grader.reference.gates import SigmoidGate
    x = np.float64(9.0)
    gates = [ReferenceGate(SigmoidGate, np.float32, nudge=n) for n in (0, 1, -1)]
    grads = []
    for g in gates:
        g.forward(x)
        grads.append(float(g.backward(1.0)[0]))
    assert grads[1] != grads[0] != grads[2]
    assert max(abs(g - grads[0]) for g in grads) > 1e-3 * abs(grads[0]) * 1e-2
