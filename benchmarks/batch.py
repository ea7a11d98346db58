"""Throughput of `bpgrade batch` on a generated class, optionally against nbgrader.

    python benchmarks/batch.py [-n 500] [-j JOBS] [--vs-nbgrader [--nbgrader-subset 20]]

Generates N submissions: correct, buggy and broken notebooks and modules, and a
few that hang (1% by default). Grades them with `bpgrade batch` in a
subprocess and prints submissions per second, the peak memory of the whole
process tree (sum of PSS, sampled every 0.25 s; the largest single RSS too) and
percentiles of the per-submission grading time recorded in the gradebook.
Several sizes (-n 100 500) show whether memory stays flat in N.

Hangs cost their timeout on one worker. By default the rubric is the packaged
gates rubric with short limits (load 2 s, call 1 s, submission 10 s), so the
figure measures the grader rather than the timeout; --rubric gates uses the
packaged limits (30 s to load).

--vs-nbgrader installs nbgrader into a temporary virtual environment (or uses
--nbgrader-venv), grades a subset of the same notebooks (ordinary ones: no
hangs) with `nbgrader autograde`, and prints both throughputs and their ratio,
measured in the same run.
"""
import argparse
import functools
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignments" / "gates" / "source.ipynb"

GOOD = '''class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
'''
GOOD_NUMPY = '''import numpy as np


class MultiplyGate:
    def forward(self, x, y):
        self.cache = (np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return self.cache[0] * self.cache[1]

    def backward(self, dz):
        x, y = self.cache
        return (y * dz, x * dz)


class AddGate:
    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, dz):
        return (dz, dz)
'''
BUGS = {
    "forgot_dz": GOOD.replace("[self.y * dz, self.x * dz]", "[self.y, self.x]"),
    "swapped": GOOD.replace("[self.y * dz, self.x * dz]", "[self.x * dz, self.y * dz]"),
    "add_sign": GOOD.replace("return [dz, dz]", "return [dz, -dz]"),
    "add_ones": GOOD.replace("return [dz, dz]", "return [1, 1]"),
}
BROKEN = {
    "syntax": GOOD.replace("def backward(self, dz):", "def backward(self, dz)", 1),
    "no_addgate": GOOD.split("class AddGate")[0],
    "renamed": GOOD.replace("MultiplyGate", "MulGate"),
}
HANGS = {
    "load_loop": "while True:\n    pass\n",
    "load_sleep": "import time\ntime.sleep(3600)\n",
    "forward_loop": GOOD.replace("return x * y", "while True:\n            pass"),
}
DEMO = "g = MultiplyGate()\nprint(g.forward(-2, 5), g.backward(1.0))\n"


@functools.lru_cache(maxsize=None)  # a few codes, thousands of students
def notebook(code, shape="assignment"):
    """A student's notebook: the assignment's own (instructions, demo cells, the
    self-check) with `code` in place of its gate cells, or a minimal one."""
    if shape == "minimal":
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell("# Backprop gates\nImplement the gates below."),
                    nbformat.v4.new_code_cell("import numpy as np"),
                    nbformat.v4.new_code_cell(code),
                    nbformat.v4.new_code_cell(DEMO)]
        return nbformat.writes(nb)
    nb = nbformat.read(str(ASSIGNMENT), as_version=4)
    for cell in nb.cells:  # as released and filled in: the solutions without their markers
        cell.source = re.sub(r"(?m)^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", "", cell.source)
    gates = [c for c in nb.cells if c.cell_type == "code" and re.search(r"^class \w", c.source, re.M)]
    gates[0].source = code
    nb.cells = [c for c in nb.cells if c not in gates[1:]]
    return nbformat.writes(nb)


def generate(folder, n, hanging, seed=0, notebooks="assignment"):
    """N submissions; returns {student: (category, kind, code)}."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    n_hang = max(1 if hanging > 0 else 0, round(n * hanging))
    plan = {}
    for i in range(n):
        sid = "s%04d" % i
        if i < n_hang:
            name, code = list(HANGS.items())[i % len(HANGS)]
            category = "hanging"
        else:
            r = rng.random()
            if r < 0.60:
                category, code = "correct", rng.choice([GOOD, GOOD_NUMPY])
            elif r < 0.85:
                category, code = "buggy", rng.choice(list(BUGS.values()))
            else:
                category, code = "broken", rng.choice(list(BROKEN.values()))
        kind = "notebook" if rng.random() < 0.7 else "module"
        if category == "broken" and kind == "notebook" and rng.random() < 0.3:
            (folder / (sid + ".ipynb")).write_text('{"cells": [{"cell_type": "code", "source": ')
            plan[sid] = (category, kind, None)
            continue
        if kind == "notebook":
            (folder / (sid + ".ipynb")).write_text(notebook(code, notebooks))
        else:
            (folder / (sid + ".py")).write_text(code + "\n" + DEMO)
        plan[sid] = (category, kind, code)
    return plan


def bench_rubric(folder, name):
    """The rubric to grade with: the packaged one, or a copy with short limits."""
    src = Path(subprocess.run([sys.executable, "-c", "from backprop_grader.judge import rubric; "
                               "print(rubric.find(%r))" % (name or "gates")],
                              capture_output=True, text=True, check=True).stdout.strip())
    if name:
        return src
    data = yaml.safe_load(src.read_text())
    data["limits"] = dict(data.get("limits", {}), load_timeout=2, call_timeout=1, submission_timeout=10)
    out = folder / "gates_short_limits.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


# ------------------------------------------------------------------ memory of a process tree

def descendants(root):
    children = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def pss_kb(pid):
    try:
        for line in Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler(threading.Thread):
    def __init__(self, pid, every=0.25):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb, self.peak_procs = pid, every, 0, 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            pids = descendants(self.pid)
            total = sum(pss_kb(p) for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_procs = total, len(pids)
            self.stop.wait(self.every)


# ------------------------------------------------------------------ bpgrade batch

def run_bpgrade(subs, rubric, jobs, work):
    gb = work / "grades.sqlite"
    env = dict(os.environ, BPGRADE_SECRET="benchmark-secret-0123456789abcdef")
    cmd = [sys.executable, "-m", "backprop_grader", "batch", str(subs), "--gradebook", str(gb),
           "--rubric", str(rubric), "--progress", "none"] + (["-j", str(jobs)] if jobs else [])
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.monotonic() - start
    sampler.stop.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        sys.exit("bpgrade batch failed (%d):\n%s" % (proc.returncode, err))
    db = sqlite3.connect(str(gb))
    rows = db.execute("SELECT student, score, max_score, duration, error, isolation_tier "
                      "FROM grades").fetchall()
    db.close()
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall": wall, "rows": rows, "summary": err, "peak_pss_mb": sampler.peak_kb / 1024,
            "peak_procs": sampler.peak_procs, "max_rss_mb": maxrss / 1024}


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def report(n, plan, res):
    rows = res["rows"]
    print("\n== bpgrade batch, N = %d ==" % n)
    print("graded %d of %d in %.2f s: %.1f submissions/s" % (len(rows), n, res["wall"], len(rows) / res["wall"]))
    print("peak memory: %.0f MB (sum of PSS over %d processes); largest single process RSS %.0f MB"
          % (res["peak_pss_mb"], res["peak_procs"], res["max_rss_mb"]))
    durations = [r[3] for r in rows]
    print("grading time per submission: p50 %.3f s, p90 %.3f s, p99 %.3f s, max %.2f s"
          % tuple([pct(durations, q) for q in (50, 90, 99)] + [max(durations)]))
    by = {}
    for student, score, max_score, duration, error, tier in rows:
        category, kind, _ = plan[student]
        by.setdefault((category, kind), []).append((score, max_score, duration, error))
    print("%-9s %-9s %5s %10s %10s %8s" % ("category", "kind", "count", "mean score", "p50 time", "errors"))
    for (category, kind), items in sorted(by.items()):
        print("%-9s %-9s %5d %10.1f %9.3fs %8d" % (
            category, kind, len(items), statistics.fmean(i[0] for i in items),
            pct([i[2] for i in items], 50), sum(bool(i[3]) for i in items)))
    off = [(s, sc) for s, sc, mx, *_ in rows if plan[s][0] == "correct" and sc != mx]
    if off:
        print("note: %d correct submission(s) did not get full marks: %s"
              % (len(off), ", ".join("%s=%g" % x for x in off[:8])))
    hang = sum(r[3] for r in rows if plan[r[0]][0] == "hanging")
    print("time spent on hanging submissions: %.1f s of worker time" % hang)
    return len(rows) / res["wall"]


TARGETS = {"rate": 100.0, "ratio": 100.0, "memory_mb": 300.0}  # issue 19


def targets(figures):
    """One table of the issue's targets against this run's figures, per shape and N."""
    print("\n== targets: >= %g submissions/s, >= %gx nbgrader, <= %g MB for the process tree =="
          % (TARGETS["rate"], TARGETS["ratio"], TARGETS["memory_mb"]))
    print("%-10s %5s %9s %5s %11s %5s %9s %5s %14s" % ("notebooks", "N", "subs/s", "met", "x nbgrader", "met",
                                                     "peak MB", "met", "floor subs/s"))
    for (shape, n), f in figures.items():
        ratio = f.get("ratio")
        print("%-10s %5d %9.1f %5s %11s %5s %9.0f %5s %14s" % (
            shape, n, f["rate"], "yes" if f["rate"] >= TARGETS["rate"] else "no",
            "%.0fx" % ratio if ratio else "-", ("yes" if ratio >= TARGETS["ratio"] else "no") if ratio else "-",
            f["memory_mb"], "yes" if f["memory_mb"] <= TARGETS["memory_mb"] else "no",
            "%.1f" % f["floor"] if "floor" in f else "-"))
    if any("floor" in f for f in figures.values()):
        print("floor: the same class with one check of one trial (fork, confinement, loading, exit, "
              "the gradebook): no speed-up of the checks can pass it")


# ------------------------------------------------------------------ nbgrader

NBGRADER_TESTS = '''# autograder tests
import random
m = MultiplyGate()
assert m.forward(-2, 5) == -10
assert m.backward(2.0) == [10.0, -4.0] or list(m.backward(2.0)) == [10.0, -4.0]
a = AddGate()
assert a.forward(-2, 5) == 3
assert list(a.backward(-4.0)) == [-4.0, -4.0]
for _ in range(20):
    x, y, dz = (random.uniform(-4, 4) for _ in range(3))
    m.forward(x, y)
    dx, dy = m.backward(dz)
    assert abs(dx - y * dz) < 1e-9 and abs(dy - x * dz) < 1e-9
'''


def nbgrader_venv(path, work):
    if path:
        return Path(path)
    venv = work / "nbgrader-venv"
    print("installing nbgrader into %s ..." % venv, flush=True)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "nbgrader"], check=True)
    print("installed in %.0f s" % (time.monotonic() - start))
    return venv


def run_nbgrader(venv, plan, subset, work, notebooks):
    course = work / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.CourseDirectory.course_id = 'bench'\n"
        "c.ExecutePreprocessor.timeout = 30\n" % str(course))
    meta = lambda **kw: {"nbgrader": dict({"schema_version": 3, "locked": False, "solution": False,  # noqa: E731
                                           "grade": False}, **kw)}
    nb = nbformat.reads(notebook(GOOD, notebooks), as_version=4)  # the shape bpgrade grades
    for cell in nb.cells:
        if cell.source == GOOD:
            cell.source = "### BEGIN SOLUTION\n" + GOOD + "### END SOLUTION"
            cell.metadata.update(meta(solution=True, grade_id="gates"))
    nb.cells.append(nbformat.v4.new_code_cell(NBGRADER_TESTS, metadata=meta(
        grade=True, locked=True, grade_id="test_gates", points=100)))
    (course / "source" / "ps1" / "gates.ipynb").write_text(nbformat.writes(nb))
    nbg = str(venv / "bin" / "nbgrader")
    env = dict(os.environ, PATH=str(venv / "bin") + os.pathsep + os.environ["PATH"])
    subprocess.run([nbg, "generate_assignment", "ps1", "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    released = nbformat.read(str(course / "release" / "ps1" / "gates.ipynb"), as_version=4)
    chosen = [s for s, (cat, kind, code) in sorted(plan.items())
              if kind == "notebook" and code is not None and cat != "hanging"][:subset]
    for sid in chosen:
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "gates":
                cell.source = plan[sid][2]
        folder = course / "submitted" / sid / "ps1"
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / "gates.ipynb"))
        (folder / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    start = time.monotonic()
    r = subprocess.run([nbg, "autograde", "ps1", "--create", "--force"], cwd=course, env=env,
                       capture_output=True, text=True)
    wall = time.monotonic() - start
    graded = len(list((course / "autograded").glob("*/ps1/gates.ipynb"))) if (course / "autograded").exists() else 0
    if r.returncode != 0 or graded != len(chosen):
        print("nbgrader autograde: exit %d, %d of %d graded\n%s" % (r.returncode, graded, len(chosen),
                                                                   r.stderr[-2000:]))
    return len(chosen), graded, wall

def floor_rubric(work, rubric):
    """The rubric with its first forward check only, at one trial and no special cases:
    what a submission costs before any checking (fork, confinement, loading, exit, report)."""
    data = yaml.safe_load(Path(rubric).read_text())
    first = next(c for c in data["checks"] if c["check"] == "forward")
    data["checks"] = [dict(first, trials=1, specials=[])]
    out = Path(work) / "floor.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="+", default=[500], help="class sizes (default: 500)")
    ap.add_argument("-j", "--jobs", type=int, help="bpgrade workers (default: all cores)")
    ap.add_argument("--hanging", type=float, default=0.01, help="fraction that hangs (default 0.01)")
    ap.add_argument("--notebooks", choices=["assignment", "minimal"], nargs="+", default=["assignment", "minimal"],
                    help="notebook shapes, each measured in turn: the assignment's own with the student's "
                         "gates, and a minimal one (4 cells) (default: both)")
    ap.add_argument("--rubric", help="rubric name or file (default: gates with short limits)")
    ap.add_argument("--vs-nbgrader", action="store_true", help="also time nbgrader autograde")
    ap.add_argument("--nbgrader-subset", type=int, default=20, help="notebooks for nbgrader (20)")
    ap.add_argument("--nbgrader-venv", help="use this venv with nbgrader instead of installing one")
    ap.add_argument("--floor", action="store_true",
                    help="also grade each class with one check of one trial (the floor under the checks)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpgrade-bench-"))
    try:
        rubric = bench_rubric(work, args.rubric)
        print("rubric: %s; %d cores; jobs: %s" % (rubric, os.cpu_count(), args.jobs or "all cores"))
        figures, venv = {}, None
        for shape in args.notebooks:
            print("\n######## %s notebooks ########" % shape)
            rate, plan = None, None
            for n in args.n:
                run = work / ("%s-n%d" % (shape, n))
                plan = generate(run / "subs", n, args.hanging, notebooks=shape)
                res = run_bpgrade(run / "subs", rubric, args.jobs, run)
                rate = report(n, plan, res)
                figures[shape, n] = {"rate": rate, "memory_mb": res["peak_pss_mb"]}
                if args.floor:
                    (run / "floor").mkdir()
                    res = run_bpgrade(run / "subs", floor_rubric(work, rubric), args.jobs, run / "floor")
                    figures[shape, n]["floor"] = len(res["rows"]) / res["wall"]
            if args.vs_nbgrader:
                venv = venv or nbgrader_venv(args.nbgrader_venv, work)
                count, graded, wall = run_nbgrader(venv, plan, args.nbgrader_subset, work / shape, shape)
                nb_rate = graded / wall if wall > 0 else float("nan")
                print("\n== nbgrader autograde, %s notebooks ==" % shape)
                print("graded %d of %d ordinary notebooks in %.1f s: %.2f notebooks/s (%.2f s each)"
                      % (graded, count, wall, nb_rate, wall / max(graded, 1)))
                print("throughput ratio, bpgrade batch (whole mix, N = %d) / nbgrader: %.0fx"
                      % (args.n[-1], rate / nb_rate if nb_rate else float("nan")))
                for n in args.n:
                    figures[shape, n]["ratio"] = figures[shape, n]["rate"] / nb_rate if nb_rate else None
        targets(figures)
    finally:
        if args.keep:
            print("work folder kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
