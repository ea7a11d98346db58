"""Shape 2 of issue 18: CS231n-style layer functions with an opaque cache
(assignments/layers/rubric.yaml, corpus in tests/layers/).

Each corpus file is graded once per seed (two at a time, in a module fixture), and
every item's verdict and named mistake is asserted against EXPECTED: correct
variants (float32, dict and object caches, lists, loops, helpers) get full marks,
each mistake loses exactly its items with its id, broken files get a reason.
Mistake files import the correct layers from good.py and redefine one function.
"""
from pathlib import Path

import numpy as np
import pytest

import layer_corpus

from backprop_grader.judge import rubric
from backprop_grader.judge.checks import numerical
from backprop_grader.judge.checks.base import Context, Outcome
from backprop_grader.judge.inputs import Case

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "layers"
RUBRIC = rubric.load(HERE.parent / "assignments" / "layers" / "rubric.yaml")
SEEDS = [3, 2024]
AFFINE = ("affine-format", "affine-backward", "affine-numerical", "affine-state")


def fails(ids, mistake=None, **others):
    """{item: mistake} for failing items: `ids` name `mistake` on their diagnosed items."""
    named = {"affine-backward", "affine-state", "relu-backward", "sigmoid-backward", "softmax-grad",
             "batchnorm-backward"}
    return dict({i: mistake if i in named else None for i in ids}, **others)


# file -> {failing item: named mistake id (None: fails, nothing named)}
EXPECTED = {
    "good": {}, "good_float32": {}, "good_graph": {},
    "affine_transpose_missing": fails(AFFINE, "transpose_missing"),
    "affine_db_not_summed": fails(AFFINE, "broadcast_not_summed"),
    "affine_order": fails(AFFINE, "gradients_out_of_order"),
    "affine_not_reshaped": fails(AFFINE, "dx_not_reshaped"),
    "relu_unmasked": fails(["relu-backward", "relu-numerical"], "relu_passed_negative"),
    "relu_mask_on_dout": fails(["relu-backward", "relu-numerical"], "relu_passed_negative"),
    # a stable but wrong formula is said once, by its own item, not again by stability
    "sigmoid_times_sigma": fails(["sigmoid-backward"], "sigmoid_not_derivative"),
    "softmax_not_averaged": fails(["softmax-grad"], "loss_not_averaged"),
    "softmax_no_minus_one": fails(["softmax-grad"], "softmax_label_not_subtracted"),
    "batchnorm_no_paths": fails(["batchnorm-backward", "batchnorm-numerical"], "batchnorm_paths_missing"),
    "sigmoid_naive": fails(["sigmoid-stability"]),
    "softmax_unshifted": fails(["softmax-stability"]),
    "broken_syntax": fails([i.id for i in RUBRIC.items]),
    "broken_missing": fails(["relu-forward", "relu-backward", "relu-numerical", "batchnorm-backward",
                             "batchnorm-numerical"]),
    "broken_raises": fails(AFFINE + ("batchnorm-backward", "batchnorm-numerical")),
}
# what the student reads, for the failures that must say it in words
SAYS = {
    ("affine_order", "affine-backward"): "returned its values in the wrong order",
    ("sigmoid_naive", "sigmoid-stability"): "not numerically stable: at inputs as large as",
    ("softmax_unshifted", "softmax-stability"): "FloatingPointError: overflow encountered in exp",
    ("broken_syntax", "affine-forward"): "SyntaxError",
    ("broken_missing", "batchnorm-backward"): "name 'batchnorm_backward' is not defined",
    ("broken_missing", "relu-forward"): "relu_forward must return a pair (out, cache)",
    ("broken_raises", "batchnorm-backward"): "NotImplementedError",
}


@pytest.fixture(scope="module")
def graded():
    return layer_corpus.grade_all(CORPUS, RUBRIC, EXPECTED, SEEDS)


def test_every_corpus_file_is_in_the_table():
    assert {p.stem for p in CORPUS.glob("*.py")} == set(EXPECTED)


def test_no_false_pass_and_no_false_fail(graded):
    assert layer_corpus.mismatches(graded, EXPECTED) == {}


def test_failures_say_why(graded):
    assert layer_corpus.unsaid(graded, SAYS) == []


def test_a_step_across_relu_kink_is_drawn_again():
    """relu-numerical draws inputs down to 1e-9, where a finite-difference step crosses 0:
    the reference's own differences say so, and the case is replaced."""
    item = next(i for i in RUBRIC.items if i.id == "relu-numerical")
    ctx = Context(RUBRIC, item, np.random.default_rng(0), None, Outcome())
    drawn = ctx.cases()
    crossing = [c for c in drawn if numerical.kinked(ctx, c)]
    assert crossing  # the draw does land on the kink
    kept = numerical.smooth(ctx, drawn)
    assert len(kept) == len(drawn) and not any(numerical.kinked(ctx, c) for c in kept)


def test_a_step_across_a_max_tie_is_detected():
    """The same test finds a max gate's tie between x and y: a step of x that passes y."""
    library = rubric.load(rubric.find("gate-library"))
    item = next(i for i in library.items if i.id == "max-numerical")
    ctx = Context(library, item, np.random.default_rng(0), None, Outcome())
    def case(y):
        return Case([np.float64(1.0), np.float64(y)], [np.float64(2.5)])
    assert numerical.kinked(ctx, case(1 + 1e-6))  # float64 steps of 1e-5 pass y
    assert not numerical.kinked(ctx, case(1 + 1e-3)) and numerical.kinked(ctx, case(1 + 1e-3), numerical.STEP32)
    assert not numerical.kinked(ctx, case(2.0), numerical.STEP32)
