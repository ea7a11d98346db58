"""Shape 3 of issue 18: "Deep Learning from Scratch" layers whose parameters go to the
constructor and whose parameter gradients stay on the object
(assignments/dlfs-layers/rubric.yaml, corpus in tests/dlfs/).

Each corpus file is graded once per seed (in a module fixture) and every item's
verdict and named mistake is asserted against EXPECTED: the book's own code (which
changes dout in place and adds 1e-7 inside the log) and a float32 variant with
helpers, tuples and extra attributes get full marks; each mistake loses exactly its
items with its id; broken files get a reason. Mistake files import the book's layers
from good.py and redefine one class.
"""
from pathlib import Path

import pytest

import layer_corpus

from backprop_grader.judge import rubric
from backprop_grader.judge.rubric import Api

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "dlfs"
RUBRIC = rubric.load(HERE.parent / "assignments" / "dlfs-layers" / "rubric.yaml")
SEEDS = [3, 2024]
AFFINE = ("affine-format", "affine-backward", "affine-numerical", "affine-state")
NAMED = {"affine-backward", "affine-state", "relu-backward", "sigmoid-backward", "softmax-backward"}


def fails(ids, mistake=None):
    """{item: mistake} for failing items: `ids` name `mistake` on their diagnosed items."""
    return {i: mistake if i in NAMED else None for i in ids}


# file -> {failing item: named mistake id (None: fails, nothing named)}
EXPECTED = {
    "good": {}, "good_float32": {}, "good_no_default": {},
    "affine_transpose_missing": fails(AFFINE, "transpose_missing"),
    "affine_db_not_summed": fails(AFFINE, "broadcast_not_summed"),
    "affine_returns_all": fails(AFFINE),
    "relu_passes_negative": fails(["relu-backward", "relu-numerical"], "relu_passed_negative"),
    "sigmoid_times_out": fails(["sigmoid-backward"], "sigmoid_not_derivative"),
    "softmax_not_averaged": fails(["softmax-backward"], "loss_not_averaged"),
    "softmax_no_minus_one": fails(["softmax-backward"], "softmax_label_not_subtracted"),
    "broken_syntax": fails([i.id for i in RUBRIC.items]),
    "broken_missing": fails(["sigmoid-backward", "softmax-loss", "softmax-backward"]),
}
SAYS = {
    ("affine_transpose_missing", "affine-backward"): "self.dW has shape (5, 6), expected (6, 5)",
    ("affine_returns_all", "affine-backward"): "dx is a tuple of 3 values",
    ("broken_syntax", "relu-forward"): "SyntaxError",
    ("broken_missing", "softmax-loss"): "SoftmaxWithLoss is not defined in the submission",
    ("broken_missing", "sigmoid-backward"): "NotImplementedError",
}


@pytest.fixture(scope="module")
def graded():
    return layer_corpus.grade_all(CORPUS, RUBRIC, EXPECTED, SEEDS)


def test_every_corpus_file_is_in_the_table():
    assert {p.stem for p in CORPUS.glob("*.py")} == set(EXPECTED)


def test_the_rubric_declares_the_book_api():
    assert RUBRIC.gates["Affine"].api == Api(init=(1, 2), grads_on=(None, "dW", "db"), upstream_in_place=True)
    assert RUBRIC.gates["Affine"].grads == ["dx", "dW", "db"]
    loss = RUBRIC.gates["SoftmaxWithLoss"]
    assert loss.loss and loss.grads == ["dx"] and loss.constant == {"t": {"labels": 4}}


def test_no_false_pass_and_no_false_fail(graded):
    assert layer_corpus.mismatches(graded, EXPECTED) == {}


def test_failures_say_why(graded):
    assert layer_corpus.unsaid(graded, SAYS) == []
