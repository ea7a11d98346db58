"""Input strategies: what the grader feeds a gate.

Values are a random sign times a log-uniform magnitude, drawn from the
grader's own Generator. Inputs are kept apart (no near-ties) and upstream
gradients stay away from 0 and ±1, so that common mistakes cannot hide.
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

SPECIALS = ("zeros", "large", "small", "mixed", "zero_upstream")


@dataclass
class Case:
    inputs: list  # float64 arrays (0-d for scalars)
    upstream: list  # one upstream gradient per output: backward's arguments
    label: str = "random"


def signed(rng: np.random.Generator, shape: int | tuple, lo: float, hi: float) -> np.ndarray:
    mag = np.exp(rng.uniform(math.log(lo), math.log(hi), size=shape))
    return np.where(rng.random(shape) < 0.5, -mag, mag)


def draw_trials(rng: np.random.Generator, shapes: Sequence[tuple], out_shapes: Sequence[tuple], spec: dict,
                trials: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """All random trials at once: inputs[i][k] is input i of trial k, upstream[j][k]
    the upstream gradient of output j. Rows that break a rule (near-ties, upstream
    near 0 or ±1) are left out."""
    inputs = kept_rows(rng, shapes, spec["magnitude"], trials,
                       lambda xs, n: near_ties(xs, spec["min_gap"], n))
    upstream = kept_rows(rng, out_shapes, spec["upstream"], trials, near_one)
    return inputs, upstream


def kept_rows(rng: np.random.Generator, shapes: Sequence[tuple], bounds: Sequence[float], trials: int,
              bad: Callable[[list[np.ndarray], int], np.ndarray]) -> list[np.ndarray]:
    """`trials` rows of signed values, one array per shape, leaving out the rows
    that `bad(values, rows)` flags. Drawn with a surplus, which is almost always
    enough; arrays too large to keep apart everywhere are accepted after 1000 tries."""
    rows = 2 * trials + 8
    kept, have = [[] for _ in shapes], 0
    for _ in range(1000):
        values = [signed(rng, (rows,) + tuple(s), *bounds) for s in shapes]
        good = np.flatnonzero(~bad(values, rows))
        if not have and len(good) >= trials:  # the usual case: one draw is enough
            good = good[:trials]
            return [v[good] for v in values]
        for k, v in zip(kept, values):
            k.append(v[good])
        have += len(good)
        if have >= trials:
            break
    else:
        for k, v in zip(kept, values):
            k.append(v)
    return [np.concatenate(k)[:trials] for k in kept]


def any_per_row(flags: np.ndarray, rows: int) -> np.ndarray:
    """Per row: is any of its flags set? (Rows of plain numbers are one flag each.)"""
    return flags if flags.ndim == 1 else np.any(flags.reshape(rows, -1), axis=1)


def near_one(values: list[np.ndarray], rows: int) -> np.ndarray:
    """Per row: is an upstream gradient within 0.1 of ±1 in size?"""
    bad = np.zeros(rows, dtype=bool)
    for u in values:
        bad |= any_per_row(np.abs(np.abs(u) - 1) < 0.1, rows)
    return bad


def near_ties(inputs: list[np.ndarray], gap: float, trials: int) -> np.ndarray:
    """Per trial: do two same-shaped inputs come within `gap` of each other in size?"""
    flat = [np.abs(x) for x in inputs]
    bad = np.zeros(trials, dtype=bool)
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            if flat[i].shape == flat[j].shape:
                a, b = flat[i], flat[j]
                bad |= any_per_row(np.abs(a - b) < gap * np.maximum(a, b), trials)
    return bad


def cases(rng: np.random.Generator, shapes: Sequence[tuple], out_shapes: Sequence[tuple], spec: dict, trials: int,
          specials: Sequence[str] = SPECIALS) -> list[Case]:
    """Random cases, then the special ones named in the rubric. One draw gives
    every row: the random trials, then a base row for each special case."""
    specials = list(specials)
    if not trials + len(specials):
        return []
    inputs, upstream = draw_trials(rng, shapes, out_shapes, spec, trials + len(specials))
    per_row = zip(zip(*map(list, inputs)), zip(*map(list, upstream)))  # arrays -> rows
    rows = [(list(xs), list(us)) for xs, us in per_row]
    out = [Case(*row) for row in rows[:trials]]
    for name, (base, up) in zip(specials, rows[trials:]):
        out.extend(special(rng, name, shapes, out_shapes, base, up))
    return out


def special(rng: np.random.Generator, name: str, shapes: Sequence[tuple], out_shapes: Sequence[tuple], base: list,
            up: list) -> list[Case]:
    """The cases a special name stands for, built from one drawn row."""
    if name == "zeros":
        found = [Case([np.zeros(s) for s in shapes], up, "all inputs zero")]
        for i in range(len(shapes)):
            values = list(base)
            values[i] = np.zeros(shapes[i])
            found.append(Case(values, up, "input %d zero" % (i + 1)))
        return found
    if name in ("large", "small"):
        scale = 10.0 ** (rng.uniform(6, 8) * (1 if name == "large" else -1))
        return [Case([x * scale for x in base], up, name + " magnitudes")]
    if name == "mixed":
        values = [v * (1e7 if i == 0 else 1e-7) for i, v in enumerate(base)]
        return [Case(values, up, "mixed magnitudes")] if len(shapes) > 1 else []
    if name == "zero_upstream":
        return [Case(base, [np.zeros(s) for s in out_shapes], "upstream gradient zero")]
    raise ValueError(name)


def constant(rng: np.random.Generator, rule: dict, shape: tuple) -> object:
    """An input that gets no gradient, drawn by its rubric rule (`not_differentiable`):
    {labels: K}, integer labels in [0, K) of `shape`; {value: V}, V itself."""
    if "labels" in rule:
        return rng.integers(0, rule["labels"], size=shape)
    return copy.deepcopy(rule["value"])


def settled(rng: np.random.Generator, found: list[Case], constants: dict, loss: bool) -> list[Case]:
    """`found` with the inputs of `constants` ({position: (rule, shape)}) drawn by their rules and, for a
    loss (its upstream gradient is 1), upstream gradients of 1 and no zero-upstream case."""
    if not constants and not loss:
        return found
    out = []
    for case in found:
        if loss and case.label == "upstream gradient zero":
            continue
        values = [constant(rng, *constants[i]) if i in constants else x for i, x in enumerate(case.inputs)]
        ups = [np.ones(np.shape(u)) for u in case.upstream] if loss else case.upstream
        out.append(Case(values, ups, case.label))
    return out


def placeholder(rule: dict, shape: tuple) -> object:
    """A constant input's stand-in for finding a reference's output shapes."""
    return np.zeros(shape, dtype=np.int64) if "labels" in rule else copy.deepcopy(rule["value"])


def rules_key(constants: dict) -> str:
    """`constants` as a hashable key."""
    return json.dumps({str(k): v for k, v in sorted(constants.items())}, sort_keys=True, default=list)
