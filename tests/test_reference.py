"""The reference gates are the ground truth: check them independently.

Gradients are compared with float64 central finite differences of the gates'
own forward, d(sum(upstream * forward)) / d input, one element at a time, with
step h = 1e-5 * max(1, |x|).
"""
import zlib

import numpy as np
import pytest

from backprop_grader.reference import AddGate, MultiplyGate
from backprop_grader.reference import gates as gates_module

GATES = [MultiplyGate, AddGate]
SHAPES = [(), (1,), (5,), (2, 3), (3, 1, 2)]


def central_difference(cls, inputs, upstream, i):
    x = np.array(inputs[i], dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        h = 1e-5 * max(1.0, abs(float(x[index])))
        total = []
        for sign in (1, -1):
            moved = x.copy()
            moved[index] += sign * h
            args = list(inputs)
            args[i] = moved if moved.ndim else float(moved)
            total.append(np.sum(upstream * cls().forward(*args)))
        grad[index] = (total[0] - total[1]) / (2 * h)
    return grad


def assert_matches_fd(cls, inputs, upstream):
    gate = cls()
    out = gate.forward(*inputs)
    grads = gate.backward(upstream)
    assert len(grads) == len(inputs)
    scale = max(1.0, float(np.max(np.abs(upstream))) * max(float(np.max(np.abs(v))) for v in inputs))
    for i, (g, x) in enumerate(zip(grads, inputs)):
        assert np.shape(g) == np.shape(x), "gradient %d has the input's shape" % i
        fd = central_difference(cls, inputs, upstream, i)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8 * scale)
    return out, grads


def signed(rng, shape):
    mag = np.exp(rng.uniform(np.log(0.1), np.log(100.0), size=shape))
    return np.where(rng.random(shape) < 0.5, -mag, mag)


@pytest.mark.parametrize("cls", GATES, ids=lambda c: c.__name__)
def test_python_floats_match_finite_differences(cls):
    rng = np.random.default_rng(20240601)
    for _ in range(50):
        x, y, dz = (float(v) for v in signed(rng, 3))
        out, grads = assert_matches_fd(cls, [x, y], dz)
        assert isinstance(out, float)
        assert all(isinstance(g, float) for g in grads)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("cls", GATES, ids=lambda c: c.__name__)
def test_arrays_match_finite_differences_elementwise(cls, shape):
    rng = np.random.default_rng(zlib.crc32(repr((cls.__name__, shape)).encode()))
    for _ in range(5):
        x, y, dz = signed(rng, shape), signed(rng, shape), signed(rng, shape)
        out, grads = assert_matches_fd(cls, [x, y], dz)
        assert np.shape(out) == shape


@pytest.mark.parametrize("cls", GATES, ids=lambda c: c.__name__)
def test_finite_difference_harness_catches_a_wrong_gate(cls):
    """The harness above can fail: a gate that forgets the upstream gradient."""
    class Forgot(cls):
        def backward(self, dz):
            return super().backward(1.0)

    with pytest.raises(AssertionError):
        assert_matches_fd(Forgot, [2.5, -1.5], 0.7)


def test_exact_values_multiply():
    gate = MultiplyGate()
    assert gate.forward(2.5, -1.5) == -3.75
    assert gate.backward(0.7) == [-1.5 * 0.7, 2.5 * 0.7]


def test_exact_values_add():
    gate = AddGate()
    assert gate.forward(2.5, -1.5) == 1.0
    assert gate.backward(0.7) == [0.7, 0.7]
    x, y, dz = np.array([1.0, 2.0]), np.array([3.0, -4.0]), np.array([0.5, -2.0])
    np.testing.assert_array_equal(gate.forward(x, y), [4.0, -2.0])
    dx, dy = gate.backward(dz)
    np.testing.assert_array_equal(dx, dz)
    np.testing.assert_array_equal(dy, dz)


def test_slide_example_through_the_gates():
    """f(x, y, z) = (x + y) * z at x=-2, y=5, z=-4."""
    add, mul = AddGate(), MultiplyGate()
    q = add.forward(-2.0, 5.0)
    f = mul.forward(q, -4.0)
    assert q == 3.0
    assert f == -12.0
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    assert (dx, dy, dz) == (-4.0, -4.0, 3.0)


def test_slide_example_with_integers():
    add, mul = AddGate(), MultiplyGate()
    f = mul.forward(add.forward(-2, 5), -4)
    dq, dz = mul.backward(1)
    assert f == -12
    assert add.backward(dq) == [-4, -4]
    assert dz == 3


@pytest.mark.parametrize("cls", GATES, ids=lambda c: c.__name__)
def test_backward_uses_the_latest_forward(cls):
    gate = cls()
    gate.forward(1.5, -2.0)
    gate.forward(3.0, 7.0)
    expected = {MultiplyGate: [3.5, 1.5], AddGate: [0.5, 0.5]}[cls]
    assert gate.backward(0.5) == expected


def test_multiply_caches_per_instance_and_repeats():
    a, b = MultiplyGate(), MultiplyGate()
    a.forward(2.0, 3.0)
    b.forward(5.0, 7.0)
    assert a.backward(1.0) == [3.0, 2.0]
    assert b.backward(1.0) == [7.0, 5.0]
    assert a.backward(2.0) == [6.0, 4.0]  # backward twice: no accumulation
    assert a.backward(2.0) == [6.0, 4.0]


def test_multiply_arrays_cached_not_copied_semantics():
    """The reference keeps the arrays it was given; it never changes them."""
    x, y = np.array([1.0, -2.0]), np.array([3.0, 4.0])
    keep_x, keep_y = x.copy(), y.copy()
    gate = MultiplyGate()
    gate.forward(x, y)
    gate.backward(np.array([0.5, 0.25]))
    np.testing.assert_array_equal(x, keep_x)
    np.testing.assert_array_equal(y, keep_y)


def test_zero_upstream_gives_zero_gradients():
    for cls in GATES:
        gate = cls()
        gate.forward(np.array([1e8, -3.0]), np.array([2.0, 1e-8]))
        for g in gate.backward(np.zeros(2)):
            np.testing.assert_array_equal(g, np.zeros(2))


def test_module_exports_only_the_two_gates():
    assert gates_module.MultiplyGate is MultiplyGate
    assert gates_module.AddGate is AddGate
