"""Where one grading's CPU goes: the trusted parent against the sandbox.

    python benchmarks/cpu.py [-n 300] [--repeat 2]

Generates N submissions with the batch benchmark's mix (no hangs), grades them
one at a time in this process through one warm fork server (as a batch worker
does), and prints CPU milliseconds per submission: this process (the trusted
side: loading, drawing inputs, checks, the report) and the fork server's tree
(the sandbox: fork, load, answering the calls, exit), user and system, per
submission kind. Wall time is printed too; it includes each side waiting for
the other. Compare figures from the same run: the machine is shared.

--floor also grades the same submissions with a rubric of one check of one trial:
what a submission costs before any checking (fork, confinement, loading, one
message, exit, the report), the floor under any speed-up of the checks.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch as bench  # noqa: E402  (the batch benchmark's generator and rubric)

from backprop_grader.batch import pool  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root):
    """(user, system) seconds of `root` and every process below it, reaped children included."""
    user = system = 0.0
    for pid in bench.descendants(root):
        try:
            fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += (int(fields[11]) + int(fields[13])) / TICK
        system += (int(fields[12]) + int(fields[14])) / TICK
    return user, system


def cost(run, server, n):
    """Milliseconds per unit of `run()` (which does `n` units): wall, this process
    and the fork server's tree (the sandboxes), user and system."""
    start_self, start_box, start = os.times(), tree_cpu(server._proc.pid), time.monotonic()
    run()
    end_self, end_box, wall = os.times(), tree_cpu(server._proc.pid), time.monotonic() - start
    ms = lambda seconds: seconds / n * 1e3  # noqa: E731
    return {"wall": ms(wall), "parent user": ms(end_self.user - start_self.user),
            "parent sys": ms(end_self.system - start_self.system),
            "sandbox user": ms(end_box[0] - start_box[0]), "sandbox sys": ms(end_box[1] - start_box[1])}


def measure(tasks, rubric):
    return cost(lambda: [pool.grade_task(task, rubric) for task in tasks], pool.fork_server(), len(tasks))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=300, help="submissions (default 300)")
    ap.add_argument("--repeat", type=int, default=2, help="measured passes (default 2)")
    ap.add_argument("--floor", action="store_true", help="also grade with one check of one trial")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpgrade-cpu-"))
    plan = bench.generate(work / "subs", args.n, 0.0)
    rubric = str(bench.bench_rubric(work, None))
    tasks = [pool.Task(p.stem, str(p), 1000 + i)
             for i, p in enumerate(sorted((work / "subs").iterdir()))]
    for task in tasks[:10]:  # start the fork server and warm both sides
        pool.grade_task(task, rubric)
    groups = {"all": tasks}
    for task in tasks:
        category, kind, _ = plan[task.student]
        groups.setdefault("%s %s" % (category, kind), []).append(task)
    print("CPU ms per submission (%d submissions, %d cores; wall includes waiting)"
          % (args.n, os.cpu_count()))
    print("%-18s %5s %8s %12s %11s %13s %12s" % ("group", "n", "wall", "parent user", "parent sys",
                                               "sandbox user", "sandbox sys"))
    rubrics = [("", rubric)] + ([("floor: ", bench.floor_rubric(work, rubric))] if args.floor else [])
    for label, path in rubrics:
        for name, group in groups.items():
            for _ in range(args.repeat if name == "all" else 1):
                m = measure(group, path)
                print("%-18s %5d %8.1f %12.1f %11.1f %13.1f %12.1f" % (
                    label + name, len(group), m["wall"], m["parent user"], m["parent sys"],
                    m["sandbox user"], m["sandbox sys"]))


if __name__ == "__main__":
    main()
