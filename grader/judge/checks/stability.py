from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.errors import Wrong
from backprop_grader.judge.checks.base import check, floating, forward_backward

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context


OVERFLOW = ("FloatingPointError", "OverflowError")  # NumPy's warnings raised; math.exp's


def finite(raw: object) -> bool:
    """False when a raw answer holds NaN or an infinity (null on the wire)."""
    if raw is None:
        return False
    if isinstance(raw, float):
        return math.isfinite(raw)
    if isinstance(raw, list):
        return all(finite(v) for v in raw)
    if isinstance(raw, dict):
        return all(finite(raw[k]) for k in ("v", "items") if k in raw and raw.get("t") != "other")
    return True


@check("stability")
def stability(ctx: Context) -> None:
    """forward and backward at extreme inputs (the item's `inputs` and `examples`:
    sigmoid at ±800, logits in the thousands) with NumPy's overflow, divide-by-zero
    and invalid-value warnings raised as errors: every answer must come back finite.
    Its values are the other items' to judge: a wrong formula that is stable is
    said once, by them, not again here."""
    gate, spec, shapes = ctx.student(), ctx.gate, ctx.out_shapes()
    cases = ctx.cases(specials=False)
    ctx.session.strict = True
    answers = []
    try:
        answers = forward_backward(gate, cases)
        for out, grads in answers:
            gate.outputs(out, shapes, spec.outputs) + gate.grads(grads, spec.grad_shapes, spec.grads)
            ctx.outcome.trials += 1
    except Wrong as exc:
        if exc.exception not in OVERFLOW and all(finite(a) for pair in answers for a in pair):
            raise
        largest = max((float(np.max(np.abs(x))) for c in cases for x in c.inputs if floating(x)), default=0.0)
        raise Wrong("not numerically stable: at inputs as large as %g, %s" % (largest, exc.message), exc.where,
                    exc.kind, exc.exception, exc.missing) from None
    finally:
        ctx.session.strict = False
