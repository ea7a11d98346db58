from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.judge.probe import run
from backprop_grader.judge.checks.base import check, forward_backward_calls

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context
    from backprop_grader.judge.inputs import Case
    from backprop_grader.judge.probe import StudentGate
    from backprop_grader.judge.rubric import Gate

RTOL, RTOL32 = 1e-5, 1e-2  # finite differences are noisier than the reference
STEP, STEP32 = 1e-5, 1e-2  # relative steps, for float64 and float32 answers
EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps


@check("numerical")
def numerical(ctx: Context) -> None:
    """backward agrees with float64 central differences of the student's own forward."""
    gate, spec, shapes = ctx.student(), ctx.gate, ctx.out_shapes()
    cases = ctx.cases()
    screen = callable(getattr(spec.reference, "kink", None))  # a reference with kinks says so (kink())
    if screen:  # float64 steps: cases that cross a kink are drawn again; float32 steps: elements left out
        cases = smooth(ctx, cases, STEP)
        wide = [kinks(ctx, c, STEP32) for c in cases]  # asked always, so that a kit has them recorded
    diff = spec.differentiable

    def moved(step):
        return [(k, i, index, h, args) for k, case in enumerate(cases)
                for i, index, h, args in perturbations(case, step, diff)]
    # one message: each case's forward and backward, then the forwards at the
    # moved inputs (float64 steps; float32 answers need larger ones, asked after)
    moves = moved(STEP)
    answers = run(forward_backward_calls(gate, cases)
                  + [(gate, "forward", args) for *_, args in moves])
    got = []
    for out, grads in zip(answers[:2 * len(cases):2], answers[1:2 * len(cases):2]):
        gate.outputs(out, shapes, spec.outputs)
        got.append(gate.grads(grads, spec.grad_shapes, spec.grads))
    ctx.require_varying(got)
    values = answers[2 * len(cases):]
    if gate.float32:
        moves = moved(STEP32)
        values = run([(gate, "forward", args) for *_, args in moves])
    eps = EPS32 if gate.float32 else EPS64
    differ = scalar_differences if not any(spec.shapes) and not any(shapes) else differences
    numeric, noise = differ(gate, spec, cases, moves, values, shapes, eps)
    if gate.float32 and screen:  # an element whose larger step crosses a kink is not judged
        for k, masks in enumerate(wide):
            for j, mask in enumerate(masks):
                if np.ndim(noise[k][j]):
                    noise[k][j][mask] = np.inf
                elif mask:
                    noise[k][j] = np.inf
    tol = dict(ctx.item.tolerance)
    tol["rtol"] = max(tol["rtol"], RTOL32 if gate.float32 else RTOL)
    tol["atol"] = max(tol["atol"], tol["rtol"])
    ctx.compare_all(cases, got, numeric, None, spec.grads, tolerance=tol, slack=noise,
                    note="expected values are finite differences of your forward")


def scalar_differences(gate: StudentGate, spec: Gate, cases: list[Case], moves: list[tuple], values: list,
                       shapes: Sequence[tuple], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """`differences` for gates of plain numbers, all at once: (cases, inputs) tables."""
    outputs = [gate.outputs(v, shapes, spec.outputs) for v in values]
    plus, minus = np.array(outputs[::2]), np.array(outputs[1::2])  # (moves, outputs)
    ups = np.array([cases[k].upstream for k, *_ in moves[::2]], dtype=np.float64)
    twice_h = 2 * np.array([h for *_, h, _ in moves[::2]])
    numeric = (ups * (plus - minus)).sum(axis=1) / twice_h
    noise = 4 * eps * (np.abs(ups) * (np.abs(plus) + np.abs(minus))).sum(axis=1) / twice_h
    return numeric.reshape(len(cases), -1), noise.reshape(len(cases), -1)


def differences(gate: StudentGate, spec: Gate, cases: list[Case], moves: list[tuple], values: list,
                shapes: Sequence[tuple], eps: float) -> tuple[list, list]:
    """Central differences of the student's forward (at the moved inputs: `values`),
    and their round-off, per case and input element."""
    numeric = [[np.zeros(s) for s in spec.shapes] for _ in cases]
    noise = [[np.zeros(s) for s in spec.shapes] for _ in cases]
    for (k, i, index, h, _), plus, minus in zip(moves[::2], values[::2], values[1::2]):
        plus = gate.outputs(plus, shapes, spec.outputs)
        minus = gate.outputs(minus, shapes, spec.outputs)
        ups = cases[k].upstream  # d(sum over outputs of upstream * output) / d input
        numeric[k][i][index] = sum(np.sum(u * (p - m)) for u, p, m in zip(ups, plus, minus)) / (2 * h)
        # round-off in f(x+h) - f(x-h), carried through the division by 2h
        noise[k][i][index] = 4 * eps * sum(np.sum(np.abs(u) * (np.abs(p) + np.abs(m)))
                                           for u, p, m in zip(ups, plus, minus)) / (2 * h)
    diff = spec.differentiable
    return [[row[i] for i in diff] for row in numeric], [[row[i] for i in diff] for row in noise]


def smooth(ctx: Context, cases: list[Case], step: float = STEP, rounds: int = 8) -> list[Case]:
    """The cases where no finite-difference step crosses a kink of the reference (ReLU
    at 0, a max's tie): there its own differences disagree with its own gradients.
    Such a case is drawn again (random cases, a few at a time), not held against the student."""
    kept, want = [], len(cases)
    for _ in range(rounds):
        kept += [c for c in cases if not kinked(ctx, c, step)]
        if len(kept) >= want:
            break
        cases = ctx.cases(trials=3 * (want - len(kept)))
    return kept[:want]


def kinked(ctx: Context, case: Case, step: float = STEP) -> bool:
    """True when a finite-difference step (the check's `step`) crosses a kink at this case."""
    return any(np.any(mask) for mask in kinks(ctx, case, step))


def kinks(ctx: Context, case: Case, step: float = STEP) -> list[np.ndarray]:
    """Per gradient, the elements where the reference's central differences (with the
    check's `step`) disagree with its own backward: their step crosses a kink."""
    n = len(ctx.gate.outputs)
    want = ctx.expected(case)[0][n:]
    diff = ctx.gate.differentiable
    numeric = [np.zeros(np.shape(w)) for w in want]
    moves = list(perturbations(case, step, diff))
    for (i, index, h, plus), (*_, minus) in zip(moves[::2], moves[1::2]):
        up, down = ctx.reference().forward(*plus), ctx.reference().forward(*minus)
        numeric[diff.index(i)][index] = sum(np.sum(u * (p - m)) for u, p, m in
                                            zip(case.upstream, up, down)) / (2 * h)
    tol = max(RTOL if step == STEP else RTOL32, ctx.item.tolerance.get("rtol", 0))
    return [np.abs(w - g) > tol * max(1.0, float(np.max(np.abs(w)))) + tol * np.abs(w)
            for w, g in zip(want, numeric)]


def perturbations(case: Case, step: float,
                  diff: Sequence[int] | None = None) -> Iterator[tuple[int, tuple, float, list]]:
    """Each input element moved by +h and -h: (input, element, h, arguments).
    h shrinks with tiny inputs, so it stays inside the gap between inputs that
    the random draws keep (a max gate's kink is where inputs tie). `diff`: the
    inputs to move (default all)."""
    for i, x in enumerate(case.inputs):
        if diff is not None and i not in diff:
            continue
        if np.ndim(x) == 0:  # a plain number: the same steps, without arrays
            x = float(x)
            h = step_at(step, x)
            for sign in (1, -1):
                args = list(case.inputs)
                args[i] = np.float64(x + sign * h)
                yield i, (), h, args
            continue
        x = np.asarray(x, dtype=np.float64)
        for index in np.ndindex(x.shape):
            h = step_at(step, float(x[index]))
            for sign in (1, -1):
                moved = x.copy()
                moved[index] += sign * h
                args = list(case.inputs)
                args[i] = moved
                yield i, index, h, args


def step_at(step: float, value: float) -> float:
    """The finite-difference step for one input element of this value."""
    return step * max(1e-3, abs(value))
