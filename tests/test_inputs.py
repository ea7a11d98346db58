"""Input strategies (grader/judge/inputs.py): the rules every drawn trial keeps."""
import numpy as np
import pytest

from backprop_grader.judge import inputs

SPEC = {"magnitude": [0.5, 4.0], "upstream": [0.5, 4.0], "min_gap": 0.1}


def random_rows(seed, shapes, out_shapes, spec=SPEC, trials=20):
    rng = np.random.default_rng(seed)
    return [c for c in inputs.cases(rng, shapes, out_shapes, spec, trials) if c.label == "random"]


@pytest.mark.parametrize("shapes, out_shapes", [([(), ()], [()]), ([(), (), ()], [()]),
                                                ([(5, 3), (3,)], [(5,)]), ([(4,), (4,)], [(4,)])])
def test_random_trials_keep_the_rules(shapes, out_shapes):
    """Magnitudes within bounds, both signs, same-shaped inputs never within
    min_gap of each other in size, upstream gradients never near 0 or ±1."""
    for seed in range(50):
        rows = random_rows(seed, shapes, out_shapes)
        assert len(rows) == 20
        for case in rows:
            assert [np.shape(x) for x in case.inputs] == [tuple(s) for s in shapes]
            assert [np.shape(u) for u in case.upstream] == [tuple(s) for s in out_shapes]
            for x in case.inputs:
                assert np.all((0.5 <= np.abs(x)) & (np.abs(x) <= 4.0))
            for u in case.upstream:
                assert np.all(np.abs(np.abs(u) - 1) >= 0.1) and np.all(np.abs(u) >= 0.5)
            for i, a in enumerate(case.inputs):
                for b in case.inputs[i + 1:]:
                    if np.shape(a) == np.shape(b):
                        a_, b_ = np.abs(a), np.abs(b)
                        assert np.all(np.abs(a_ - b_) >= 0.1 * np.maximum(a_, b_))
    signs = np.sign([x for s in range(20) for c in random_rows(s, shapes, out_shapes)
                     for x in np.ravel(c.inputs[0])])
    assert 0.3 < np.mean(signs > 0) < 0.7


def test_a_seed_draws_the_same_cases_and_another_seed_others():
    def values(seed):
        return [(list(map(float, c.inputs)), list(map(float, c.upstream)), c.label)
                for c in inputs.cases(np.random.default_rng(seed), [(), ()], [()], SPEC, 20)]
    assert values(7) == values(7)
    assert values(7) != values(8)


def test_special_cases_follow_the_random_ones():
    rng = np.random.default_rng(3)
    labels = [c.label for c in inputs.cases(rng, [(), ()], [()], SPEC, 5)]
    assert labels == ["random"] * 5 + ["all inputs zero", "input 1 zero", "input 2 zero",
                                       "large magnitudes", "small magnitudes",
                                       "mixed magnitudes", "upstream gradient zero"]


def test_ties_that_cannot_be_avoided_are_accepted():
    """Two large same-shaped arrays almost always come close somewhere: after
    1000 tries the draw is accepted rather than looping for ever."""
    spec = dict(SPEC, min_gap=0.9)
    rows = random_rows(0, [(50,), (50,)], [(50,)], spec, trials=3)
    assert len(rows) == 3 and all(np.shape(c.inputs[0]) == (50,) for c in rows)
