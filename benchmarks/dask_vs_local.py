"""Dask against the local pool, on one machine, measured side by side.

    python benchmarks/dask_vs_local.py [-n 200] [--hanging 0 0.05]

For each hanging fraction: a generated class (benchmarks/batch.py's mix of
correct, buggy, broken and hanging notebooks and modules) is graded by
`bpgrade batch` with the local pool (2 workers) and then with a real `dask
scheduler` and `dask worker --nworkers 2 --nthreads 3` on 127.0.0.1, as the
README tells a TA to start them (--nthreads to try others). Prints submissions
per second of each and Dask's share of the local figure (the target is >= 80%).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch as bench  # noqa: E402  (benchmarks/batch.py)

BIN = Path(sys.executable).parent


def start_cluster(work, workers, threads):
    """A scheduler and `workers` worker processes of `threads` threads; (address, procs)."""
    file = work / "scheduler.json"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    while not file.exists():
        time.sleep(0.1)
    address = json.loads(file.read_text())["address"]
    procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", str(workers),
                                   "--nthreads", str(threads), "--no-dashboard", "--host", "127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True))
    return address, procs


def stop(procs):
    for p in procs[::-1]:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
        p.wait()


def timed_batch(subs, rubric, work, extra):
    gb = work / ("grades-%d.sqlite" % time.monotonic_ns())
    env = dict(os.environ, BPGRADE_SECRET="benchmark-secret-0123456789abcdef")
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "bpgrade"), "batch", str(subs), "--gradebook", str(gb),
                           "--rubric", str(rubric), "--progress", "none"] + extra,
                          env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit("bpgrade batch failed (%d):\n%s" % (proc.returncode, proc.stderr))
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=200, help="class size (default 200)")
    ap.add_argument("--hanging", type=float, nargs="+", default=[0.0, 0.05],
                    help="fractions that hang (default: 0 and 0.05)")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    ap.add_argument("--nthreads", type=int, default=3,
                    help="threads per Dask worker (default 3: the local pool's gradings per worker)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bpgrade-dask-bench-") as tmp:
        work = Path(tmp)
        rubric = bench.bench_rubric(work, None)
        address, procs = start_cluster(work, args.workers, args.nthreads)
        try:
            print("n = %d, %d Dask workers of %d threads, local pool of %d workers" % (
                args.n, args.workers, args.nthreads, args.workers))
            for hanging in args.hanging:
                subs = work / ("subs-%g" % hanging)
                bench.generate(subs, args.n, hanging)
                local = timed_batch(subs, rubric, work, ["-j", str(args.workers)])
                dask = timed_batch(subs, rubric, work, ["--executor", "dask", "--scheduler", address])
                print("hanging %4.0f%%: local %6.1f/s (%5.1f s), dask %6.1f/s (%5.1f s): dask at %3.0f%% of local"
                      % (100 * hanging, args.n / local, local, args.n / dask, dask, 100 * local / dask))
        finally:
            stop(procs)


if __name__ == "__main__":
    main()
