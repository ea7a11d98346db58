"""Per-submission cost of each isolation tier, against a bare child process.

    python benchmarks/isolation.py [--runs 10]

Prints the median wall time of: a bare `python -c "import numpy"` child (what any
process-based grader pays), and a full grading of one correct module at each
tier available here. The figures that matter are the differences, measured in
the same run.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backprop_grader import load
from backprop_grader.judge import rubric, score
from backprop_grader.sandbox import isolation

GOOD = '''
class MultiplyGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y
    def backward(self, dz):
        return [self.y * dz, self.x * dz]
class AddGate:
    def forward(self, x, y):
        return x + y
    def backward(self, dz):
        return [dz, dz]
'''
TIERS = {1: set(), 2: {"landlock", "seccomp", "uid_drop"}, 3: None}


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    rub = rubric.load(rubric.find("gates"))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gates.py"
        path.write_text(GOOD)
        loaded = load.load(path)
        bare = median_time(lambda: subprocess.run([sys.executable, "-I", "-c", "import numpy"],
                                                  check=True), args.runs)
        print("bare child (python -c 'import numpy'): %.3f s" % bare)
        caps = isolation.capabilities()
        times = {}
        for tier, allow in sorted(TIERS.items()):
            if tier == 3 and not caps["bwrap"]:
                continue
            result = score.grade(loaded, rub, seed=1, allow=allow)
            t = times[tier] = median_time(lambda: score.grade(loaded, rub, seed=1, allow=allow),
                                          args.runs)
            print("tier %d %-56s full grading %.3f s: +%.3f s over the bare child, "
                  "isolation +%.3f s over tier 1 (score %g)"
                  % (result.isolation["tier"], "(" + ", ".join(result.isolation["layers"]) + ")",
                     t, t - bare, t - times[1], result.score))


if __name__ == "__main__":
    main()
