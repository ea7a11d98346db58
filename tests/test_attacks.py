"""Hostile submissions (tests/attacks/) against the sandbox.

Every attack is a real submission that also implements the gates, so each test
checks four things: the score (no unearned marks, and the honest parts still
score), an honest message in the feedback, no side effects (files outside the
scratch folder, surviving processes, accepted connections, changed
site-packages or grader files), and that a correct submission graded right
after, at the same tier, still gets full marks.

File-system, process and network attacks run at the tiers that are meant to
stop them (3 = bubblewrap, 2 = Landlock + seccomp); tier 1 cannot stop them, by
design, so they do not run there. Attacks on the process boundary
(monkeypatching, lying objects, exits, hangs, memory, recursion, floods, huge
answers, fake output) run at tier 1 too. A tier this machine lacks is skipped.
"""
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import sysconfig
import site
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from backprop_grader import cli, load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score
from backprop_grader.sandbox import MAX_REPLY, Limits, ForkServer, isolation

TESTS = Path(__file__).parent
ATTACKS = TESTS / "attacks"
GOOD = TESTS / "data" / "good.py"
REPO = TESTS.parent
BPGRADE = Path(sys.executable).parent / "bpgrade"

RUB = rubric.load(rubric.find("gates"))
TINY = rubric.load(ATTACKS / "tiny.yaml")  # mul-backward and add-backward only
SHORT = Limits(call_timeout=1, load_timeout=3, submission_timeout=20)

ALLOW = {3: None, 2: {"landlock", "seccomp"}, 1: set()}
CAPS = isolation.capabilities()
MISSING = {3: "bubblewrap is not usable here" if not CAPS["bwrap"] else "",
           2: "Landlock or seccomp is not available here"
              if not (CAPS["landlock"] and CAPS["seccomp"]) else "",
           1: ""}


def tiers(*numbers):
    return [pytest.param(t, id="tier%d" % t, marks=pytest.mark.skipif(bool(MISSING[t]),
                                                                       reason=MISSING[t]))
            for t in numbers]


CONFINED = tiers(3, 2)  # file system, processes, network
ALL = tiers(3, 2, 1)  # the process boundary


@dataclasses.dataclass(frozen=True)
class Host:
    """A host the grader may run on, simulated on this kernel: `tier` is the tier
    the grader must report there; `abi` caps the Landlock ABI it may use (0: a
    kernel without Landlock), through BPGRADE_LANDLOCK_ABI."""
    name: str
    tier: int
    allow: object
    abi: object = None

    def missing(self):
        if self.tier == 3 or self.allow is None:
            return MISSING[3]
        if not CAPS["seccomp"]:
            return "seccomp is not available here"
        if self.abi and CAPS["landlock"] < self.abi:
            return "this kernel's Landlock is older than ABI %d" % self.abi
        return "" if self.abi == 0 or CAPS["landlock"] else MISSING[2]

    @contextmanager
    def env(self):
        old = os.environ.get(isolation.ENV_ABI)
        if self.abi is not None:
            os.environ[isolation.ENV_ABI] = str(self.abi)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(isolation.ENV_ABI, None)
            else:
                os.environ[isolation.ENV_ABI] = old


SECCOMPED = {"landlock", "seccomp"}
HOST_LIST = [Host("tier3", 3, None), Host("tier2", 2, SECCOMPED),
             Host("tier2-abi5", 2, SECCOMPED, 5), Host("tier2-abi2", 2, SECCOMPED, 2),
             Host("tier2-abi1", 2, SECCOMPED, 1), Host("no-landlock", 1, SECCOMPED, 0)]
# Every host above: the defences that seccomp and the parent give, at every ABI
HOSTS = [pytest.param(h, id=h.name, marks=pytest.mark.skipif(bool(h.missing()),
                                                             reason=h.missing()))
         for h in HOST_LIST]

ADD = ["add-format", "add-forward", "add-backward", "add-numerical", "add-state"]
# Items that need MultiplyGate's gradients right; an attack must lose every one.
MUL_GRADS = ["mul-backward", "mul-numerical", "graph-slide", "graph-random"]


# ---- grading ------------------------------------------------------------------

def grade(path, tier, rub=RUB, limits=None, spawner=None, allow="tier"):
    loaded = load.load(path, class_names=list(rub.gates))
    allow = ALLOW[tier] if allow == "tier" else allow
    return score.grade(loaded, rub, seed=2024, limits=limits, allow=allow, spawner=spawner)


def feedback(result):
    """Everything a student or instructor reads about a grading."""
    data = report.gradescope(result)
    return report.text(result) + "\n" + "\n".join(
        [data["output"]] + [t["output"] for t in data["tests"]])


@functools.lru_cache(maxsize=None)
def baseline(name, rubric_path=None):
    """Item scores of tests/attacks/baseline_<name>.py: the same gates with the
    same fault as an attack (swapped gradients, or a backward that raises) and no
    attack. Scores do not depend on the tier, so tier 1 is used."""
    rub = TINY if rubric_path == str(TINY.path) else RUB
    result = grade(ATTACKS / ("baseline_%s.py" % name), 1, rub)
    assert 0 < result.score < rub.max_score
    return {r.item.id: r.score for r in result.items}


def assert_marks(result, like):
    """The attack scores no item above the baseline `like` ("swapped" or "raises"):
    no unearned marks (it may earn fewer: a gate returning constants fails the
    consistency checks too), and AddGate keeps all of its marks."""
    got = {r.item.id: r.score for r in result.items}
    want = baseline(like, str(result.rubric.path))
    assert got.keys() == want.keys()
    assert all(got[k] <= want[k] for k in got), (got, want)
    for r in result.items:
        if r.item.id in ADD:
            assert r.score == r.item.points
        if r.item.id in MUL_GRADS:
            assert r.score == 0


def item(result, item_id):
    return next(r for r in result.items if r.item.id == item_id)


def submission(tmp_path, name, config=None):
    """The attack alone in a folder, with attack.json when the test aims it."""
    folder = tmp_path / ("sub-" + Path(name).stem)
    folder.mkdir()
    shutil.copy(ATTACKS / name, folder / name)
    if config is not None:
        (folder / "attack.json").write_text(json.dumps(config))
    return folder


# ---- traces -------------------------------------------------------------------

STARTUP = (".pth",)  # files in site-packages that run code at every start-up
STARTUP_NAMES = ("sitecustomize.py", "usercustomize.py")


def site_dirs():
    paths = set(site.getsitepackages()) | {site.getusersitepackages()}
    paths.update(sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib"))
    paths.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return sorted(p for p in paths if os.path.isdir(p))


TRACE_DIRS = ["/tmp", "/var/tmp", "/dev/shm", "/root", str(REPO), str(TESTS), str(ATTACKS)]


def processes():
    """pid -> (comm, cmdline) for every process we can see."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % entry) as f:
                comm = f.read().strip()
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry)] = (comm, cmdline)
    return found


def alive(pid):
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def settle(pids, grace=3.0):
    """The pids still alive after a short grace period for SIGKILL to land."""
    end = time.monotonic() + grace
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = {p for p in left if alive(p)}
    return left


def named():
    """Processes an attack renamed bpgpwn-*."""
    return {pid for pid, (comm, _) in processes().items() if comm.startswith("bpgpwn")}


def kill_new(before):
    """Clean up after a failed check: kill the attack's processes that were not
    there before the test (by pid; only ones an attack renamed bpgpwn-*)."""
    for pid in named() - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def ours(procs):
    """Processes an attack or our own sandbox started: renamed ones, and children
    running this test process's copy of child.py."""
    boot = str(isolation.boot_dir())
    return {pid for pid, (comm, cmd) in procs.items()
            if (comm.startswith("bpgpwn") or boot in cmd) and alive(pid)}


def orphans():
    """Processes named by an attack, or sandbox children of a grader that has
    exited (their child.py folder is gone)."""
    left = set()
    for pid, (comm, cmd) in processes().items():
        boot = re.search(r"(/\S*bpgrade-boot-[^/\s]+)/child\.py", cmd)
        if comm.startswith("bpgpwn") or (boot and not os.path.isdir(boot.group(1))):
            left.add(pid)
    return left


def traces():
    """Files named by an attack, in the places attacks aim at."""
    files = set()
    for d in TRACE_DIRS + site_dirs():
        try:
            files.update(os.path.join(d, n) for n in os.listdir(d) if "bpgpwn" in n)
        except OSError:
            pass
    return files


def startup_files():
    """Files Python runs at start-up, in every site-packages and stdlib folder.
    (Not whole listings: other work may install packages meanwhile.)"""
    return {d: sorted(n for n in os.listdir(d) if n.endswith(STARTUP) or n in STARTUP_NAMES
                      or "bpgpwn" in n) for d in site_dirs()}


def snapshot(cwd):
    boot = isolation.boot_dir()
    return {
        "traces": traces(),
        "site": startup_files(),
        "cwd": sorted(os.listdir(cwd)),
        "boot": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in boot.iterdir()},
        "processes": ours(processes()),
    }


class Listener:
    """A TCP and a UDP socket on one 127.0.0.1 port, for attacks to reach."""

    def __init__(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.tcp.setblocking(False)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.setblocking(False)

    def heard(self):
        """What reached us: accepted connections and datagrams."""
        heard = []
        try:
            conn, addr = self.tcp.accept()
            heard.append(("tcp", addr))
            conn.close()
        except BlockingIOError:
            pass
        try:
            heard.append(("udp", self.udp.recvfrom(100)))
        except BlockingIOError:
            pass
        return heard

    def close(self):
        self.tcp.close()
        self.udp.close()


@pytest.fixture
def watch(tmp_path, monkeypatch):
    """Runs the test in an empty working directory, then checks that nothing
    was left behind and that a correct submission still gets full marks."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    listener = Listener()
    before = snapshot(cwd)
    state = {"port": listener.port, "tier": None, "results": []}
    named_before = named()
    yield state
    try:
        check_after(state, before, cwd, listener)
    finally:
        listener.close()
        kill_new(named_before)


def check_after(state, before, cwd, listener):
    assert listener.heard() == []
    for result in state["results"]:
        scratch = re.findall(r"^scratch=(\S+)$", result.output, re.M)
        assert all(not os.path.exists(p) for p in scratch), "scratch folder left: %s" % scratch
        if state["tier"] != 3:  # pids inside bubblewrap are its own
            pids = set(map(int, re.findall(r"^(?:pid|forked)=(\d+)", result.output, re.M)))
            assert settle(pids) == set(), "processes survived grading"
    settle(ours(processes()) - before["processes"])
    after = snapshot(cwd)
    assert after["traces"] == before["traces"]
    assert after["site"] == before["site"]
    assert after["cwd"] == before["cwd"]
    assert after["boot"] == before["boot"]
    assert after["processes"] - before["processes"] == set()
    if state.get("host") is not None:
        with state["host"].env():
            good = grade(GOOD, state["host"].tier, allow=state["host"].allow)
        assert good.score == 100 and good.isolation["tier"] == state["host"].tier
    elif state["tier"] is not None:
        good = grade(GOOD, state["tier"])
        assert good.score == 100 and good.isolation["tier"] == state["tier"]


def attack_on(watch, path, host, rub=TINY, limits=None):
    """Grade an attack on a simulated host, registered with `watch`."""
    watch["host"], watch["tier"] = host, host.tier
    with host.env():
        result = grade(path, host.tier, rub, limits, allow=host.allow)
    watch["results"].append(result)
    if result.isolation:
        assert result.isolation["tier"] == host.tier, result.isolation
    return result


def attack(watch, path, tier, rub=RUB, limits=None, spawner=None):
    """Grade an attack at a tier, registered with `watch` for the after-checks."""
    watch["tier"] = tier
    result = grade(path, tier, rub, limits, spawner)
    watch["results"].append(result)
    if result.isolation:  # empty only when loading never finished
        assert result.isolation["tier"] == tier
    return result


# ---- the process boundary (all tiers) -------------------------------------------

@pytest.mark.parametrize("tier", ALL)
def test_monkeypatched_comparisons(watch, tier):
    """numpy.allclose/isclose/array_equal, numpy.testing, math.isclose and
    builtins.abs patched to say "equal", with wrong gradients."""
    result = attack(watch, ATTACKS / "monkeypatch_compare.py", tier)
    assert_marks(result, "swapped")
    out = item(result, "mul-backward")
    assert out.outcome.failures and not out.outcome.error
    text = feedback(result)
    assert "failed %d of %d trials" % (len(out.outcome.failures), out.outcome.trials) in text
    assert "expected: dx = " in text and "received: dx = " in text


@pytest.mark.parametrize("tier", ALL)
def test_objects_equal_to_everything(watch, tier):
    """backward returns objects whose __eq__ is always True and __sub__/__abs__ give 0."""
    result = attack(watch, ATTACKS / "eq_objects.py", tier)
    assert_marks(result, "raises")
    assert "dx is a Liar" in item(result, "mul-backward").outcome.error
    assert "not a number" in feedback(result)


@pytest.mark.parametrize("tier", ALL)
def test_number_subclasses_that_lie(watch, tier):
    """A float and an ndarray subclass with lying comparisons, holding zeros."""
    result = attack(watch, ATTACKS / "eq_subclass.py", tier)
    assert_marks(result, "swapped")
    failure = item(result, "mul-backward").outcome.example()
    assert float(failure.received["dx"]) == 0.0 != float(failure.expected["dx"])


@pytest.mark.parametrize("tier", ALL)
def test_stack_frames_and_gc_hold_no_answers(watch, tier):
    result = attack(watch, ATTACKS / "frames_gc.py", tier)
    assert_marks(result, "swapped")
    assert "at load: []" in result.output  # nothing of the grader's in the child


@pytest.mark.parametrize("tier", ALL)
def test_fake_results_on_stdout(watch, tier):
    result = attack(watch, ATTACKS / "fake_stdout.py", tier)
    assert_marks(result, "swapped")
    data = report.gradescope(result)
    assert data["score"] == result.score < 100
    assert [t["name"] for t in data["tests"]] == [i.name for i in RUB.items]
    # the fake JSON is shown only as the student's own output
    assert "bpgpwn: all checks passed" in data["output"]
    assert data["output"].index("Output from your code while loading") < \
        data["output"].index("bpgpwn: all checks passed")


def test_output_during_checks_is_not_called_cut_loading_output(watch):
    """fake_stdout.py prints about 1 KB while loading (under the cap) and much more
    in backward, which is dropped. `Result.output` is what was printed while
    loading, yet it ends "[... N more bytes of output not shown]", counting the
    dropped check-time output, as if the loading output had been cut."""
    result = attack(watch, ATTACKS / "fake_stdout.py", 1)
    assert len(result.output.encode()) < Limits().output_kb * 1024
    assert "more bytes of output not shown" not in result.output


@pytest.mark.parametrize("tier", ALL)
def test_sys_exit_at_import_and_in_backward(watch, tier):
    result = attack(watch, ATTACKS / "exit_sys.py", tier)
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error == "MultiplyGate.backward called sys.exit(0)"
    assert any("called sys.exit(0)" in w and "line" in w for w in result.warnings)
    assert "called sys.exit(0) while loading" in feedback(result)


@pytest.mark.parametrize("tier", ALL)
def test_os_exit_in_backward(watch, tier):
    result = attack(watch, ATTACKS / "exit_os.py", tier)
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward ended the process (exit code 0)"


@pytest.mark.parametrize("tier", ALL)
def test_os_exit_at_import(watch, tier):
    """Nothing can be graded once the loader is gone: zero, and it says why."""
    result = attack(watch, ATTACKS / "exit_os_import.py", tier)
    assert result.score == 0
    assert {r.outcome.error for r in result.items} == \
        {"loading the submission ended the process (exit code 0)"}


def test_os_exit_at_import_still_records_isolation(watch):
    """results.json (and the CLI's weak-isolation warning, which reads it) should
    say how the child was isolated even when loading failed."""
    result = attack(watch, ATTACKS / "exit_os_import.py", 1)
    assert result.score == 0
    assert result.isolation.get("tier") == 1
    assert report.gradescope(result)["extra_data"]["isolation"].get("tier") == 1


@pytest.mark.parametrize("tier", ALL)
def test_hang_at_import(watch, tier):
    result = attack(watch, ATTACKS / "hang_import.py", tier, TINY, SHORT)
    assert result.score == 0
    assert {r.outcome.error for r in result.items} == \
        {"loading the submission did not finish within 3 s"}


@pytest.mark.parametrize("tier", ALL)
def test_hang_in_backward(watch, tier):
    result = attack(watch, ATTACKS / "hang_backward.py", tier, TINY, SHORT)
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward did not return within 1 s"


def test_hang_in_backward_default_timeout(watch):
    """The rubric's own 5 s call timeout (no limits passed), strongest tier."""
    result = attack(watch, ATTACKS / "hang_backward.py",
                    max(t for t in (3, 2, 1) if not MISSING[t]), TINY)
    assert TINY.limits.call_timeout == 5
    assert_marks(result, "raises")
    assert "MultiplyGate.backward did not return within 5 s" in feedback(result)
    assert item(result, "add-backward").score == 24


def priorities(result, item_id):
    """What slow_calls.py reported as its priority: (during the calls, after loading)."""
    return {(f.received["dx"], f.received["dy"]) for f in item(result, item_id).outcome.failures}


def lowered_sessions(root):
    """Processes below `root` whose session is scheduled as a group at nice 19
    (autogroup: the process's own nice value would not count)."""
    children = {}
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = set(), list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open("/proc/%d/autogroup" % pid) as f:
                if f.read().split()[-1] == "19":
                    found.add(pid)
        except (OSError, IndexError):
            continue
    return found


def grade_watching_sessions(path, tier, spawner):
    """Grade with slow_calls.py's rubric and limits; the pids seen in a nice-19 session meanwhile."""
    out, seen = [], set()
    grading = threading.Thread(target=lambda: out.append(grade(path, tier, TINY, SHORT, spawner)))
    grading.start()
    while grading.is_alive():
        seen |= lowered_sessions(os.getpid())
        time.sleep(0.02)
    grading.join()
    return out[0], seen


@pytest.mark.parametrize("spawner", ["fresh", "fork server"])
@pytest.mark.parametrize("tier", ALL)
def test_a_slow_call_gets_the_lowest_priority(watch, tmp_path, tier, spawner):
    """A call still running after a tenth of its time limit is moved to nice 19,
    its session too (with autogroup scheduling that is what sets its share), so a
    `while True` waits out its timeout on idle CPU, not the batch's; calls that
    answer at once, and the load, keep their priority."""
    fork_server = ForkServer(ALLOW[tier]) if spawner == "fork server" else None
    own = float(os.nice(0))
    try:
        slow, lowered = grade_watching_sessions(ATTACKS / "slow_calls.py", tier, fork_server)
        fast, not_lowered = grade_watching_sessions(
            submission(tmp_path, "slow_calls.py", {"fast": True}), tier, fork_server)
    finally:
        if fork_server is not None:
            fork_server.close()
    watch["tier"] = tier
    watch["results"] += [slow, fast]
    assert priorities(slow, "mul-backward") == {(19.0, own)}
    assert {dx for dx, _ in priorities(slow, "add-backward")} == {19.0}  # the same process, later
    assert priorities(fast, "mul-backward") == {(own, own)}
    assert not_lowered - lowered == set()  # (the slow one may not be reaped yet)
    if os.path.exists("/proc/self/autogroup"):
        assert lowered, "no session of the slow submission was moved to nice 19"
        if tier == 1:  # its own view, where /proc is readable
            assert priorities(slow, "add-backward") == {(19.0, 19.0)}


@pytest.mark.parametrize("tier", tiers(3, 1))
def test_a_slow_load_gets_the_lowest_priority(watch, tmp_path, tier):
    """Half the load timeout (3 s) into loading, the loader is moved to nice 19."""
    result = attack(watch, submission(tmp_path, "slow_calls.py", {"load_sleep": 2}), tier, TINY,
                    SHORT)
    assert priorities(result, "mul-backward") == {(19.0, 19.0)}


@pytest.mark.parametrize("tier", ALL)
def test_six_gigabytes(watch, tier):
    result = attack(watch, ATTACKS / "memory.py", tier)
    assert "import: MemoryError" in result.output
    assert "allocated 6 GiB" not in result.output
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error.startswith(
        "MultiplyGate.backward raised MemoryError")


@pytest.mark.parametrize("tier", ALL)
def test_recursion(watch, tier):
    result = attack(watch, ATTACKS / "recursion.py", tier)
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error.startswith(
        "MultiplyGate.backward raised RecursionError: maximum recursion depth exceeded")
    assert any("RecursionError" in w for w in result.warnings)


@pytest.mark.parametrize("tier", ALL)
def test_recursion_with_the_limit_lifted(watch, tier):
    result = attack(watch, ATTACKS / "recursion_unlimited.py", tier, TINY, SHORT)
    assert_marks(result, "raises")
    error = item(result, "mul-backward").outcome.error
    assert error.startswith("MultiplyGate.backward ")
    assert re.search(r"did not return within 1 s|crashed the process|MemoryError|RecursionError"
                     r"|used up its CPU time", error)


@pytest.mark.parametrize("tier", ALL)
def test_ten_megabytes_of_output(watch, tier):
    result = attack(watch, ATTACKS / "flood.py", tier)
    assert_marks(result, "raises")
    data = report.gradescope(result)
    assert len(json.dumps(data, indent=2)) < 1 << 20
    assert len(report.text(result)) < 1 << 20
    assert "not shown]" in data["output"]
    error = item(result, "mul-backward").outcome.error
    assert error.startswith("MultiplyGate.backward raised ValueError: www") and len(error) < 1000


@pytest.mark.parametrize("tier", ALL)
def test_a_million_values(watch, tier):
    result = attack(watch, ATTACKS / "huge_answers.py", tier)
    assert_marks(result, "raises")
    assert "backward returned 1,000,000 values; it should return a list [dx, dy]" in \
        item(result, "mul-backward").outcome.error


@pytest.mark.parametrize("tier", ALL)
def test_an_answer_too_big_to_send(watch, tier):
    """About a million values in lists and arrays each within the child's caps."""
    result = attack(watch, ATTACKS / "wide_answers.py", tier, TINY)
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward produced an answer larger than %d MB" % (MAX_REPLY >> 20)


def test_big_answers_in_a_batch(watch):
    """The same attack with 20 trials: the child keeps every answer of a check's
    batch in memory before sending any, so it runs out of memory (here with a
    256 MB limit, to be quick; with the default rubric and 1 GB it takes 20-odd
    seconds) and the message blames a MemoryError, even in the innocent forward,
    instead of the answer's size."""
    batched = dataclasses.replace(TINY, items=[dataclasses.replace(i, trials=20)
                                               for i in TINY.items])
    result = attack(watch, ATTACKS / "wide_answers.py", 1, batched,
                    Limits(memory_mb=256, submission_timeout=30))
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward produced an answer larger than %d MB" % (MAX_REPLY >> 20)


@pytest.mark.parametrize("tier", ALL)
def test_notebook_that_exits(watch, tier):
    """sys.exit(0), exit(), quit() and raise SystemExit in cells; later cells still run."""
    result = attack(watch, ATTACKS / "nb_exit.ipynb", tier)
    assert_marks(result, "raises")
    assert item(result, "mul-backward").outcome.error == "MultiplyGate.backward called sys.exit(0)"
    assert "later cells and code still ran" in feedback(result)


# ---- file system, processes, network (tiers 3 and 2) ----------------------------

@pytest.mark.parametrize("tier", CONFINED)
def test_reference_cannot_be_found_or_imported(watch, tier):
    result = attack(watch, ATTACKS / "reference_finder.py", tier)
    assert "reference not found" in result.output
    assert "found={}" in result.output  # not the grader, rubrics, nor the grader's cwd
    assert_marks(result, "swapped")


@pytest.mark.parametrize("tier", CONFINED)
def test_files_outside_scratch(watch, tier, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    sub = submission(tmp_path, "file_writer.py", {"dirs": [str(outside)], "append": [str(victim)]})
    result = attack(watch, sub, tier)
    assert_marks(result, "swapped")
    assert list(outside.iterdir()) == []
    assert victim.read_text() == "untouched\n"
    assert "blocked /tmp/bpgpwn-load.txt" in result.output
    assert "WROTE" not in result.output


@pytest.mark.parametrize("tier", CONFINED)
def test_site_packages_pth_and_sitecustomize(watch, tier):
    result = attack(watch, ATTACKS / "pth_writer.py", tier)
    assert_marks(result, "swapped")
    for d in site_dirs():
        assert "WROTE %s/" % d not in result.output
    assert not os.path.exists("/tmp/bpgpwn-pth-ran")


@pytest.mark.parametrize("tier", CONFINED)
def test_programs_cannot_run(watch, tier):
    result = attack(watch, ATTACKS / "subprocess_runner.py", tier)
    assert "EXEC OK" not in result.output
    assert_marks(result, "raises")
    refused = "the submission tried to run a program, which is not allowed"
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward raised PermissionError: " + refused
    assert any(refused in w for w in result.warnings)


@pytest.mark.parametrize("tier", CONFINED)
def test_no_network(watch, tier, tmp_path):
    result = attack(watch, submission(tmp_path, "socket_client.py", {"port": watch["port"]}), tier)
    assert "CONNECTED" not in result.output
    assert_marks(result, "raises")
    refused = "the submission tried to open a network connection, which is not allowed"
    assert item(result, "mul-backward").outcome.error == \
        "MultiplyGate.backward raised PermissionError: " + refused
    assert any(refused in w for w in result.warnings)


@pytest.mark.parametrize("tier", CONFINED)
def test_no_network_through_io_uring(watch, tier, tmp_path):
    """IORING_OP_SOCKET/CONNECT make a TCP connection without socket()/connect()."""
    sub = submission(tmp_path, "io_uring_socket.py", {"port": watch["port"]})
    result = attack(watch, sub, tier)
    assert "CONNECTED" not in result.output
    assert_marks(result, "swapped")


@pytest.mark.parametrize("tier", CONFINED)
def test_fork_server_cannot_be_killed(watch, tier):
    """Batch grading forks each submission from a warm fork server (ForkServer). The
    attack kills its parent with tgkill and leaves a background process: that
    process must still die with the submission, and the next submission through
    the same spawner must grade normally."""
    fork_server = ForkServer(ALLOW[tier])
    named_before = named()
    try:
        result = attack(watch, ATTACKS / "fork_server_killer.py", tier, spawner=fork_server)
        assert result.score <= sum(baseline("swapped").values())
        assert grade(GOOD, tier, spawner=fork_server).score == 100
        assert settle(named() - named_before) == set(), "a process of the submission survived"
    finally:
        fork_server.close()
        kill_new(named_before)


@pytest.mark.parametrize("tier", CONFINED)
def test_no_root_privileges(watch, tier):
    """The child should hold no capabilities: with them (root at tier 2 when no
    other uid is usable) it can mknod devices in its scratch folder, e.g. the disk
    holding "/", and read it raw past every file rule. (Here the container's
    device rules still refuse opening the disk; a plain VM would not.)"""
    result = attack(watch, ATTACKS / "privileges.py", tier)
    assert "capabilities=0x0\n" in result.output
    assert "MKNOD OK" not in result.output and "READ OK disk" not in result.output
    assert_marks(result, "swapped")


@pytest.mark.parametrize("tier", CONFINED)
def test_forked_processes_do_not_survive(watch, tier):
    result = attack(watch, ATTACKS / "forker.py", tier)
    assert_marks(result, "swapped")
    assert "blocked os.fork: PermissionError: the submission tried to start a process" in \
        result.output
    # libc fork() gets past the audit hook at load time; what matters is that the
    # processes die with the sandbox (checked by `watch`, by pid and by name).
    assert not os.path.exists("/tmp/bpgpwn-forker-alive.txt")


@pytest.mark.parametrize("tier", CONFINED)
def test_other_processes_cannot_be_signalled(watch, tier, tmp_path):
    """kill, tgkill, tkill, pidfd_send_signal and prlimit64 aimed at a bystander."""
    victim = subprocess.Popen(["sleep", "60"])
    try:
        limits = Path("/proc/%d/limits" % victim.pid).read_text()
        result = attack(watch, submission(tmp_path, "signaller.py", {"victim": victim.pid}), tier)
        assert victim.poll() is None, "the sandboxed code killed another process"
        assert Path("/proc/%d/limits" % victim.pid).read_text() == limits
        assert "SUCCEEDED" not in result.output
        assert_marks(result, "swapped")
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.parametrize("tier", CONFINED)
def test_notebook_magics_and_shell(watch, tier):
    """%%writefile, %%bash, %%script, !cmd, get_ipython().system, subprocess and
    %run of the reference, all aimed outside the scratch folder."""
    result = attack(watch, ATTACKS / "nb_magics.ipynb", tier)
    assert not re.search(r"^EXEC-OK", result.output, re.M)
    assert_marks(result, "swapped")  # %run of the reference did not replace MultiplyGate
    warnings = "\n".join(result.warnings)
    assert "cell 2" in warnings and "Permission denied" in warnings  # %%writefile
    assert "shell command `!echo bpgpwn > /tmp/bpgpwn-nb-bang.txt` was skipped" in warnings
    assert "cell 7, line 2: PermissionError: the submission tried to run a program" in warnings
    # %%bash and %%script are refused too; the message should say that programs
    # cannot run, not just "[Errno 1] Operation not permitted".
    for cell in ("cell 3", "cell 4"):
        line = next(w for w in result.warnings if w.startswith(cell))
        assert "not allowed" in line, line


# ---- through the real command line ------------------------------------------------

def cli_env(tier):
    """The environment for a `bpgrade` that will pick `tier`: without bubblewrap
    on PATH it cannot use tier 3 (there is no option to choose a tier)."""
    env = {"HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    path = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    if tier == 2:
        path = [p for p in path if not os.path.exists(os.path.join(p, "bwrap"))]
    env["PATH"] = os.pathsep.join([str(BPGRADE.parent)] + path)
    return env


def run_cli(tier, sub, tmp_path, *extra):
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    results = tmp_path / "out" / "results.json"
    results.parent.mkdir(exist_ok=True)
    proc = subprocess.run([str(BPGRADE), "grade", str(sub), "--results", str(results),
                           "--seed", "7"] + list(extra), cwd=cwd, env=cli_env(tier),
                          capture_output=True, text=True, timeout=90)
    return proc, results, cwd


def read_results(results):
    data = json.loads(results.read_text())
    scores = {t["extra_data"]["id"]: t["score"] for t in data["tests"]}
    return data, scores


def assert_cli_marks(results, tier, like):
    data, scores = read_results(results)
    assert data["extra_data"]["isolation"]["tier"] == tier
    assert scores == baseline(like) and data["score"] == sum(scores.values())
    return data


@pytest.fixture
def cli_watch(tmp_path):
    """For command-line runs: no traces, no orphans, and a correct submission
    graded right after at the same tier gets full marks."""
    before = {"traces": traces(), "site": startup_files(), "orphans": orphans()}
    named_before = named()
    state = {"tier": None}
    yield state
    try:
        assert settle(orphans() - before["orphans"]) == set()
    finally:
        kill_new(named_before)
    assert traces() == before["traces"]
    assert startup_files() == before["site"]
    if state["tier"] is not None:
        assert grade(GOOD, state["tier"]).score == 100


@pytest.mark.parametrize("tier", CONFINED)
def test_cli_results_file_cannot_be_forged(cli_watch, tier, tmp_path):
    cli_watch["tier"] = tier
    proc, results, cwd = run_cli(tier, ATTACKS / "results_writer.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = assert_cli_marks(results, tier, "swapped")
    assert "bpgpwn" not in results.read_text().replace(json.dumps(data["output"])[1:-1], "")
    assert "cannot read the grader's command line" in data["output"]
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in results.parent.iterdir()) == ["results.json"]


@pytest.mark.parametrize("tier", CONFINED)
def test_cli_background_process_cannot_rewrite_results(cli_watch, tier, tmp_path):
    cli_watch["tier"] = tier
    proc, results, cwd = run_cli(tier, ATTACKS / "forker.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = results.read_text()
    time.sleep(1.5)  # the attack rewrites every 50 ms for 20 s, if it is still alive
    assert results.read_text() == written
    data = assert_cli_marks(results, tier, "swapped")
    # no process starts at all (one that did would die with the sandbox)
    assert "forked=" not in data["output"]
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("tier", CONFINED)
def test_cli_grader_cannot_be_killed(cli_watch, tier, tmp_path):
    """signaller.py sends SIGKILL to its parent (the grader) by every route and sets
    its RLIMIT_FSIZE to 0 and RLIMIT_CPU to 1 s; grading must still finish."""
    cli_watch["tier"] = tier
    proc, results, cwd = run_cli(tier, ATTACKS / "signaller.py", tmp_path)
    assert proc.returncode == 0, "the submission killed the grader (exit %d)" % proc.returncode
    data = assert_cli_marks(results, tier, "swapped")
    if tier != 3:  # inside bubblewrap the "parent" is bubblewrap's own init, in the sandbox
        assert "SUCCEEDED" not in data["output"]


def test_cli_fake_stdout_does_not_reach_results_on_stdout(cli_watch, tmp_path):
    """Without --results the grader prints results.json on stdout; the student's
    printing must not mix into it."""
    proc = subprocess.run([str(BPGRADE), "grade", str(ATTACKS / "fake_stdout.py"), "--seed", "7"],
                          cwd=tmp_path, env=cli_env(3), capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert data["score"] == sum(baseline("swapped").values())
    assert "bpgpwn" not in proc.stderr


def test_cli_warns_when_isolation_is_weak(tmp_path, monkeypatch, capsys):
    """Tier 1 through cli.main. `bpgrade` has no option to choose a tier, so the
    grading call is capped at tier 1 here the way tests cap it (allow=set())."""
    monkeypatch.setattr(score, "grade", functools.partial(score.grade, allow=set()))
    out = tmp_path / "results.json"
    assert cli.main(["grade", str(GOOD), "--results", str(out), "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "bpgrade: warning: isolation tier 1 (child process, rlimits" in err
    assert "could read or write files outside its folder" in err
    data = json.loads(out.read_text())
    assert data["score"] == 100 and data["extra_data"]["isolation"]["tier"] == 1


@pytest.mark.skipif(bool(MISSING[2]), reason=MISSING[2])
def test_cli_does_not_warn_at_tier_2(tmp_path):
    proc, results, _ = run_cli(2, GOOD, tmp_path)
    assert proc.returncode == 0 and "warning" not in proc.stderr
    assert read_results(results)[0]["extra_data"]["isolation"]["tier"] == 2


# ---- every simulated host: what seccomp and the parent must hold everywhere ------

def file_state(path):
    """What an attack on a file's metadata could change."""
    st = os.stat(path)
    try:
        attrs = sorted(os.listxattr(path))
    except OSError:
        attrs = None
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
            st.st_nlink, attrs, Path(path).read_bytes())


@pytest.fixture
def targets(tmp_path):
    """Files outside the sandbox: a 0600 course secret in the grader's folder (not
    readable by the sandbox) and a file in site-packages (readable by it)."""
    secret = tmp_path / "course.secret"
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o600)
    readable = Path(sysconfig.get_paths()["purelib"]) / ("bpgpwn-target-%d.txt" % os.getpid())
    readable.write_text("site file\n")
    paths = [str(secret), str(readable)]
    before = {p: file_state(p) for p in paths}
    yield paths
    try:
        assert {p: file_state(p) for p in paths} == before, "a file outside the sandbox changed"
    finally:
        readable.unlink()


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("name", ["metadata_paths.py", "metadata_fds.py"])
def test_file_metadata_outside_the_sandbox(watch, host, name, targets, tmp_path):
    """chmod (setuid bits), chown, utime, xattrs, truncate by path or through a
    read-only O_TRUNC open, inode flags and hard links, by path and by fd, on the
    course secret and on a file the sandbox may read. Landlock covers none of
    them below ABI 3 and only some above; seccomp refuses them at every tier."""
    result = attack_on(watch, submission(tmp_path, name, {"targets": targets}), host)
    assert "SUCCEEDED" not in result.output
    # every route, for both files (fd routes need a file the sandbox can open)
    assert result.output.count("blocked") >= (10 if name == "metadata_paths.py" else 6)
    assert_marks(result, "swapped")
    if name == "metadata_paths.py":
        assert "blocked os.chmod %s: the submission tried to change a file's permissions" \
            % targets[0] in result.output


@pytest.fixture
def bystander():
    """A process of the grader's uid that attacks aim at, and how it stood."""
    victim = subprocess.Popen(["sleep", "120"], start_new_session=True)

    def state():
        ioprio = ctypes_syscall(252 if os.uname().machine == "x86_64" else 31, 1, victim.pid)
        return (os.getpriority(os.PRIO_PROCESS, victim.pid), os.sched_getscheduler(victim.pid),
                sorted(os.sched_getaffinity(victim.pid)), ioprio)
    before = state()
    yield victim
    try:
        assert victim.poll() is None, "the sandboxed code killed another process"
        assert state() == before, "the sandboxed code changed another process's scheduling"
    finally:
        victim.kill()
        victim.wait()


def ctypes_syscall(nr, *args):
    import ctypes
    return ctypes.CDLL(None, use_errno=True).syscall(nr, *args)


@pytest.mark.parametrize("host", HOSTS)
def test_no_signals_through_signal_driven_io(watch, host, bystander, tmp_path):
    """F_SETOWN/F_SETOWN_EX/F_SETSIG/O_ASYNC and FIOSETOWN/FIOASYNC on the
    grader's pipes and its own: the kernel would send SIGKILL for it, to a
    process of our choosing, with no kill call (no signal scoping below ABI 6)."""
    sub = submission(tmp_path, "sigio_grader_pipes.py", {"victim": bystander.pid})
    result = attack_on(watch, sub, host)
    assert "SUCCEEDED" not in result.output
    assert "blocked F_SETOWN" in result.output and "blocked O_ASYNC" in result.output
    assert "the submission tried to ask for signals on a file, which is not allowed" in result.output
    assert_marks(result, "swapped")


@pytest.mark.parametrize("host", HOSTS)
def test_scheduling_of_other_processes(watch, host, bystander, tmp_path):
    """nice, SCHED_IDLE, affinity and I/O priority of a process of the same uid
    (by pid and by process group) stay as they were; its own nice value the
    submission may still lower."""
    result = attack_on(watch, submission(tmp_path, "scheduling.py", {"victim": bystander.pid}),
                       host)
    assert "SUCCEEDED" not in result.output
    assert "own nice: 5" in result.output
    assert_marks(result, "swapped")


def sysv_objects():
    """(kind, key, id) of every System V IPC object on the host."""
    found = set()
    for kind in ("shm", "msg", "sem"):
        lines = Path("/proc/sysvipc/%s" % kind).read_text().splitlines()[1:]
        found.update((kind, line.split()[0], line.split()[1]) for line in lines)
    return found


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("name", ["sysv_ipc.py", "posix_queues.py"])
def test_no_ipc_objects_outlive_grading(watch, host, name):
    """Shared memory (64 MiB), message queues and semaphores with a fixed key, and
    a POSIX message queue: none may be made, so none outlives the grading or
    passes anything to the next submission."""
    before = sysv_objects()
    result = attack_on(watch, ATTACKS / name, host)
    assert sysv_objects() == before
    assert not os.path.exists("/dev/mqueue/bpgpwn-queue")
    assert "SUCCEEDED" not in result.output and "blocked" in result.output
    assert_marks(result, "swapped")


@pytest.mark.parametrize("host", HOSTS)
def test_no_processes_to_multiply_the_limits(watch, host):
    """fork, a raw clone, posix_spawn and multiprocessing while loading: each new
    process would get memory, CPU and file limits of its own."""
    result = attack_on(watch, ATTACKS / "fork_at_load.py", host)
    assert "forked=" not in result.output
    assert "blocked fork: " in result.output and "blocked clone" in result.output
    assert not named(), "a process of the submission is running"
    assert_marks(result, "swapped")


@pytest.mark.parametrize("host", HOSTS)
def test_cpu_limit_cannot_be_lifted(watch, host):
    """The soft CPU limit may be raised to the hard one, which caps the whole
    submission (load + budget); the hard one cannot be raised, and threads
    spinning in backward are stopped by the call's wall-clock limit."""
    limits = Limits(call_timeout=1, load_timeout=5, submission_timeout=20)
    result = attack_on(watch, ATTACKS / "cpu_limit_raised.py", host, limits=limits)
    hard = int(re.search(r"cpu limits now: hard=(\d+)", result.output).group(1))
    assert hard <= limits.load_cpu_seconds + limits.submission_timeout
    assert "SUCCEEDED" not in result.output
    assert item(result, "mul-backward").outcome.error.startswith("MultiplyGate.backward did not")
    assert item(result, "add-backward").score == item(result, "add-backward").item.points


@pytest.mark.parametrize("host", HOSTS)
def test_tier_reported_is_the_tier_enforced(watch, host):
    """The reference finder succeeds only where nothing confines files; the tier
    reported says so (no Landlock, no bubblewrap: tier 1, whatever else ran)."""
    result = attack_on(watch, ATTACKS / "reference_finder.py", host)
    layers = result.isolation["layers"]
    assert ("seccomp" in layers) == (host.allow is None or "seccomp" in host.allow)
    landlock = [layer for layer in layers if layer.startswith("landlock")]
    if host.abi == 0:
        assert landlock == [] and result.isolation["tier"] == 1
    elif host.abi:
        assert landlock == ["landlock %d" % host.abi]
    if host.tier >= 2:
        assert "reference not found" in result.output


def test_a_uid_without_landlock_is_not_tier_2(tmp_path):
    """A uid of its own still reads the grader's installed packages."""
    plan = isolation.Plan(tmp_path, allow=set())
    assert plan.tier(["child process", "rlimits", "uid 64200", "no capabilities", "seccomp"]) == 1
    assert plan.tier(["child process", "rlimits", "landlock 1", "seccomp"]) == 2
    assert plan.tier(["child process", "rlimits", "landlock 7"]) == 1


def test_forced_tier_and_abi_are_read_and_checked():
    caps = {"bwrap": True, "root": True, "uid_drop": True, "landlock": 7, "seccomp": "libseccomp"}
    assert isolation.forced(caps, {"BPGRADE_ISOLATION": "2"})["bwrap"] is False
    weakest = isolation.forced(caps, {"BPGRADE_ISOLATION": "1"})
    assert (weakest["landlock"], weakest["seccomp"], weakest["uid_drop"]) == (0, "", False)
    assert isolation.forced(caps, {"BPGRADE_LANDLOCK_ABI": "2"})["landlock"] == 2
    assert isolation.forced(dict(caps, landlock=3), {"BPGRADE_LANDLOCK_ABI": "5"})["landlock"] == 3
    with pytest.raises(load.UsageError, match="BPGRADE_ISOLATION=4"):
        isolation.forced(caps, {"BPGRADE_ISOLATION": "4"})


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids are handed out by root only")
def test_sandbox_uids_are_never_shared(monkeypatch):
    """Claims hold across threads and processes, until released."""
    held = [isolation.claim_uid() for _ in range(30)]
    uids = [uid for uid, _ in held]
    assert len(set(uids)) == 30
    code = ("from backprop_grader.sandbox import isolation; held = [isolation.claim_uid() for _ in range(40)]; "
            "print(' '.join(str(uid) for uid, _ in held))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=REPO).stdout.split()
    assert len(set(other)) == 40 and not set(map(int, other)) & set(uids)
    for _, claim in held:
        claim.close()
    monkeypatch.setattr(isolation, "UIDS", 50)  # exhaust a small pool (a file open per claim)
    again = [isolation.claim_uid() for _ in range(isolation.UIDS)]
    assert len({uid for uid, _ in again}) == isolation.UIDS  # all free again
    with pytest.raises(OSError, match="in use"):
        isolation.claim_uid()
    for _, claim in again:
        claim.close()


def host_env(host):
    """The environment of a `bpgrade` run that must act as `host` would."""
    env = cli_env(host.tier)
    if host.tier < 3:
        env[isolation.ENV_TIER] = str(host.tier if host.abi != 0 else 2)
    if host.abi is not None:
        env[isolation.ENV_ABI] = str(host.abi)
    return env


@pytest.mark.parametrize("host", HOSTS)
def test_cli_every_new_attack_on_every_host(cli_watch, host, targets, bystander, tmp_path):
    """`bpgrade grade` as an instructor runs it, the host chosen by the documented
    environment variables: exit 0, a results.json at the tier the host gives, no
    marks beyond the honest code's, nothing succeeded, nothing changed outside
    (the fixtures check the files and the bystander; here, IPC objects)."""
    ipc = sysv_objects()
    aim = {"targets": targets, "victim": bystander.pid}
    for name in ("metadata_paths.py", "metadata_fds.py", "sigio_grader_pipes.py", "scheduling.py",
                 "sysv_ipc.py", "posix_queues.py", "fork_at_load.py"):
        sub = submission(tmp_path, name, aim)
        results = tmp_path / ("results-" + name + ".json")
        proc = subprocess.run([str(BPGRADE), "grade", str(sub), "--rubric", str(TINY.path), "--seed", "7",
                               "--results", str(results)], cwd=tmp_path, env=host_env(host),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (name, proc.stderr)
        data = json.loads(results.read_text())
        assert data["extra_data"]["isolation"]["tier"] == host.tier, name
        assert data["score"] <= sum(baseline("swapped", str(TINY.path)).values()), name
        assert "SUCCEEDED" not in data["output"] and "forked=" not in data["output"], name
        assert ("warning: isolation tier 1" in proc.stderr) == (host.tier == 1), name
    assert sysv_objects() == ipc
