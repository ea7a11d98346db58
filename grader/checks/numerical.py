import numpy as np

from .base import check

RTOL, RTOL32 = 1e-5, 1e-2  # finite differences are noisier than the reference


@check("numerical")
def numerical(ctx):
    """backward agrees with float64 central differences of the student's own forward."""
    gate, spec, shape = ctx.student(), ctx.gate, ctx.out_shape()
    for case in ctx.cases():
        gate.forward(*case.inputs, shape=shape)
        got = gate.backward(case.upstream, spec.shapes, spec.grads)
        if gate.float32 and case.label != "random":
            continue  # float32 round-off swamps differences at extreme magnitudes
        step = 1e-2 if gate.float32 else 1e-5
        numeric = [finite_difference(gate, case, i, step, shape) for i in range(len(spec.shapes))]
        tol = dict(ctx.item.tolerance)
        tol["rtol"] = max(tol["rtol"], RTOL32 if gate.float32 else RTOL)
        tol["atol"] = max(tol["atol"], tol["rtol"])
        ctx.compare(case, got, numeric, numeric, spec.grads, tolerance=tol,
                    note="expected values are finite differences of your forward")


def finite_difference(gate, case, i, step, shape):
    """d(upstream · forward) / d input i, one element at a time."""
    x = np.array(case.inputs[i], dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        h = step * max(1.0, abs(float(x[index])))
        values = []
        for sign in (1, -1):
            moved = x.copy()
            moved[index] += sign * h
            args = list(case.inputs)
            args[i] = moved
            values.append(np.sum(case.upstream * gate.forward(*args, shape=shape)))
        grad[index] = (values[0] - values[1]) / (2 * h)
    return grad
