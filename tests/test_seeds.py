"""Correct code gets full marks whatever the seed; a mistake loses marks whatever the seed.

One loaded submission is graded under many seeds through a warm fork server,
so the sweep stays fast.
"""
import pytest

from backprop_grader import load
from backprop_grader.judge import rubric, score
from backprop_grader.sandbox import ForkServer

SEEDS = range(100, 125)

FLOAT64 = '''
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
        return (dz, dz)
'''
FLOAT32 = '''
import numpy as np
f = np.float32
class MultiplyGate:
    def forward(self, x, y):
        self.x, self.y = f(x), f(y)
        return self.x * self.y
    def backward(self, dz):
        return np.array([self.y * f(dz), self.x * f(dz)])
class AddGate:
    def forward(self, x, y):
        return f(x) + f(y)
    def backward(self, dz):
        return [f(dz), f(dz)]
'''
SWAPPED = FLOAT64.replace("[self.y * dz, self.x * dz]", "[self.x * dz, self.y * dz]")


@pytest.fixture(scope="module")
def fork_server():
    z = ForkServer()
    yield z
    z.close()


@pytest.fixture(scope="module")
def rub():
    return rubric.load(rubric.find("gates"))


def sweep(tmp_path, rub, fork_server, source):
    path = tmp_path / "gates.py"
    path.write_text(source)
    loaded = load.load(path)
    return {seed: score.grade(loaded, rub, seed=seed, spawner=fork_server) for seed in SEEDS}


@pytest.mark.parametrize("source", [FLOAT64, FLOAT32], ids=["float64", "float32"])
def test_correct_gates_get_full_marks_for_every_seed(tmp_path, rub, fork_server, source):
    for seed, result in sweep(tmp_path, rub, fork_server, source).items():
        failed = [r.item.id for r in result.items if not r.outcome.passed]
        assert failed == [], "seed %d: %s" % (seed, failed)
        assert result.score == rub.max_score


def test_swapped_inputs_lose_the_same_items_for_every_seed(tmp_path, rub, fork_server):
    outcomes = {seed: sorted(r.item.id for r in result.items if not r.outcome.passed)
                for seed, result in sweep(tmp_path, rub, fork_server, SWAPPED).items()}
    assert set(map(tuple, outcomes.values())) == {
        ("graph-random", "graph-slide", "mul-backward", "mul-numerical")}


def test_same_seed_same_result(tmp_path, rub, fork_server):
    path = tmp_path / "gates.py"
    path.write_text(SWAPPED)
    loaded = load.load(path)
    a, b = (score.grade(loaded, rub, seed=5, spawner=fork_server) for _ in range(2))
    for ra, rb in zip(a.items, b.items):
        assert ra.outcome.trials == rb.outcome.trials
        assert [f.inputs for f in ra.outcome.failures] == [f.inputs for f in rb.outcome.failures]
