"""What one message across the sandbox boundary costs, against one call in a message.

    python benchmarks/messages.py [--calls 200] [--repeat 20]

Loads the assignment's notebook (with correct gates) in a sandbox from a warm
fork server, as a batch worker does, then makes the same `--calls` calls to
MultiplyGate.forward either in one message or in one message each. Prints wall
and CPU milliseconds per sandbox (the trusted parent, and the fork server's
tree: the child), and the difference per extra message. A grading of the gates
rubric sends 19 messages; this says what sending fewer could save.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch as bench  # noqa: E402
from cpu import cost  # noqa: E402

from backprop_grader import load, sandbox  # noqa: E402
from backprop_grader.judge import probe, rubric  # noqa: E402


def once(loaded, limits, server, messages, per):
    with sandbox.Sandbox(loaded, limits, spawner=server) as box, box.check() as session:
        gate = probe.StudentGate(session, "MultiplyGate")
        for _ in range(messages):
            probe.run([(gate, "forward", [1.5, 2.5])] * per)


def measure(loaded, limits, server, messages, per, repeat):
    m = cost(lambda: [once(loaded, limits, server, messages, per) for _ in range(repeat)], server, repeat)
    return {"wall": m["wall"], "parent": m["parent user"] + m["parent sys"],
            "child": m["sandbox user"] + m["sandbox sys"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rub = rubric.load(rubric.find("gates"))
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "good.ipynb"
        path.write_text(bench.notebook(bench.GOOD, "assignment"), encoding="utf-8")
        loaded = load.load(path, class_names=list(rub.gates))
        server = sandbox.ForkServer()
        try:
            for _ in range(3):
                once(loaded, rub.limits, server, 1, 1)
            rows = {}
            for _ in range(2):  # alternate, so a drift of the machine hits both
                for label, messages, per in (("one message", 1, args.calls), ("one each", args.calls, 1)):
                    m = measure(loaded, rub.limits, server, messages, per, args.repeat)
                    rows.setdefault(label, []).append(m)
        finally:
            server.close()
    print("%d calls per sandbox, %d sandboxes per row; ms per sandbox" % (args.calls, args.repeat))
    print("%-12s %8s %8s %8s" % ("", "wall", "parent", "child"))
    for label, ms in rows.items():
        for m in ms:
            print("%-12s %8.2f %8.2f %8.2f" % (label, m["wall"], m["parent"], m["child"]))
    extra = args.calls - 1
    for key in ("wall", "parent", "child"):
        one = min(m[key] for m in rows["one message"])
        each = min(m[key] for m in rows["one each"])
        print("per extra message, %-6s %.3f ms" % (key + ":", (each - one) / extra))


if __name__ == "__main__":
    main()
