"""The optimizer update kernels: numpy's formulas, one result for any chunking, clear errors."""

import numpy as np
import pytest

from densecore.kernels import parallel, updates

SIZES = [1, 7, updates.CHUNK, updates.CHUNK + 1, 3 * updates.CHUNK + 5]  # serial and parallel


def arrays(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    w, g = rng.standard_normal((2, n)).astype(dtype)
    m = (0.1 * rng.standard_normal(n)).astype(dtype)
    v = (0.1 * rng.random(n)).astype(dtype)
    return w, g, m, v


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_matches_numpy(n, dtype):
    w, g, m, v = arrays(n, dtype)
    m2 = m + (g - m) * (1 - 0.9)
    v2 = v + (g * g - v) * (1 - 0.999)
    want = w - 0.01 * m2 / (np.sqrt(v2) + 1e-7)
    updates.adam_update(w, g, m, v, 0.01, 0.9, 0.999, 1e-7, 0.0)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(w, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(v, v2, rtol=tol, atol=tol)


def _loop_arguments(loop, n, seed):
    """Arguments for a cpu loop over n elements: arrays, the scalars, and the flags."""
    w, g, m, v = arrays(n, np.float32, seed)
    extra = 0.01 * v  # a second state: v̂, or the centered mean gradient (below √v)
    scalars = np.array([0.01, 0.9, 0.1, 0.5, 1e-7, 0.3, 0.2, 1e-4, updates.V_MAX], np.float32)
    return {
        updates._sgd: ([w, g, m], scalars, (True,)),
        updates._adam: ([w, g, m, v, extra], scalars, (True,)),
        updates._rmsprop: ([w, g, v, m, extra], scalars, (True,)),
        updates._adamax: ([w, g, m, np.abs(v)], scalars, ()),
        updates._nadam: ([w, g, m, v], scalars, ()),
        updates._adagrad: ([w, g, v], scalars, ()),
    }[loop]


@pytest.mark.parametrize("loop", updates._LOOPS, ids=lambda f: f.__name__)
def test_serial_twin_gives_the_parallel_loops_bits(loop):
    a, scalars, flags = _loop_arguments(loop, 2 * updates.CHUNK + 3, seed=1)
    b = [x.copy() for x in a]
    loop(*a, scalars, *flags)
    parallel.serial(loop)(*b, scalars, *flags)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_any_shape_is_updated_as_its_flat_view():
    w, g, m, v = (x.reshape(5, 3) for x in arrays(15, np.float32))
    flat = [x.reshape(-1).copy() for x in (w, g, m, v)]
    updates.adam_update(w, g, m, v, 0.01, 0.9, 0.999, 1e-7, 0.0)
    updates.adam_update(*flat, 0.01, 0.9, 0.999, 1e-7, 0.0)
    assert np.array_equal(w.reshape(-1), flat[0])


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda a: (a[0], a[1][:3], a[2], a[3]), ValueError),  # a shorter gradient
        (lambda a: (a[0].reshape(2, 4), *a[1:]), ValueError),  # shapes differ
        (lambda a: (a[0], a[1].astype(np.float64), a[2], a[3]), TypeError),
        (lambda a: (list(a[0]), *a[1:]), TypeError),
        (lambda a: (a[0].astype(np.int32), a[1].astype(np.int32), a[2], a[3]), TypeError),
        (lambda a: (np.repeat(a[0], 2)[::2], *a[1:]), ValueError),  # not contiguous
    ],
)
def test_bad_arrays_are_refused_before_any_update(change, error):
    a = arrays(8, np.float32)
    bad = change(a)
    with pytest.raises(error, match="adam_update: w, its gradient and its state must be"):
        updates.adam_update(*bad, 0.01, 0.9, 0.999, 1e-7, 0.0)


def test_read_only_weights_are_refused():
    w, g, m, _ = arrays(8, np.float32)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_update: .* w writeable"):
        updates.sgd_update(w, g, m, 0.1, 0.9, False)


# ---- the steps added with Keras 3's options and optimizers: each against numpy ---------------
def numpy_step(name, w, g, state, t=1, **o):
    """One step of optimizer `name` in float64 numpy, Keras's formula (kernels/updates.py)."""
    w, g = w.astype(np.float64), g.astype(np.float64)
    state = [s.astype(np.float64) for s in state]
    lr, decay = o.get("lr", 0.01), o.get("decay", 0.0)
    w = w - decay * w
    if name == "sgd":
        (m,) = state
        mu = o.get("momentum", 0.0)
        if mu == 0:
            return w - lr * g, [m]
        m = mu * m - lr * g
        return w + (mu * m - lr * g if o.get("nesterov") else m), [m]
    if name == "adam":
        m, v, vh = state
        b1, b2, eps = 0.9, 0.999, 1e-7
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        vh = np.maximum(vh, v) if o.get("amsgrad") else vh
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        return w - alpha * m / (np.sqrt(vh if o.get("amsgrad") else v) + eps), [m, v, vh]
    if name == "rmsprop":
        v, mom, a = state
        rho, mu, eps = 0.9, o.get("momentum", 0.0), 1e-7
        v = rho * v + (1 - rho) * g * g
        a = rho * a + (1 - rho) * g if o.get("centered") else a
        delta = lr * g / np.sqrt((v - a * a if o.get("centered") else v) + eps)
        if mu > 0:
            mom = mu * mom + delta
            return w - mom, [v, mom, a]
        return w - delta, [v, mom, a]
    if name == "adamax":
        m, u = state
        b1, b2, eps = 0.9, 0.999, 1e-7
        m = m + (g - m) * (1 - b1)
        u = np.maximum(b2 * u, np.abs(g))
        return w - lr / (1 - b1**t) * m / (u + eps), [m, u]
    if name == "nadam":
        m, v = state
        b1, b2, eps, (fm, fg, fv) = 0.9, 0.999, 1e-7, o["factors"]
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        return w - lr * (fm * m + fg * g) / (np.sqrt(v * fv) + eps), [m, v]
    (acc,) = state
    acc = acc + g * g
    return w - lr * g / np.sqrt(acc + 1e-7), [acc]


def kernel_step(name, w, g, state, t=1, **o):
    """The same step through kernels/updates.py, in place."""
    lr, decay = o.get("lr", 0.01), o.get("decay", 0.0)
    if name == "sgd":
        updates.sgd_update(w, g, state[0], lr, o.get("momentum", 0.0), o.get("nesterov", False), decay)
    elif name == "adam":
        alpha = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        v_hat = state[2] if o.get("amsgrad") else None
        updates.adam_update(w, g, state[0], state[1], alpha, 0.9, 0.999, 1e-7, decay, v_hat)
    elif name == "rmsprop":
        average, momentum = state[2] if o.get("centered") else None, o.get("momentum", 0.0)
        updates.rmsprop_update(w, g, state[0], state[1], lr, 0.9, momentum, 1e-7, decay, average)
    elif name == "adamax":
        updates.adamax_update(w, g, state[0], state[1], lr / (1 - 0.9**t), 0.9, 0.999, 1e-7, decay)
    elif name == "nadam":
        updates.nadam_update(w, g, state[0], state[1], lr, 0.9, 0.999, 1e-7, *o["factors"], decay)
    else:
        updates.adagrad_update(w, g, state[0], lr, 1e-7, decay)


CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9, "decay": 0.004}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "decay": 0.004}),
    ("adam", {"decay": 0.004}),
    ("adam", {"amsgrad": True}),
    ("adam", {"amsgrad": True, "decay": 0.004}),
    ("rmsprop", {"decay": 0.004}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "decay": 0.004}),
    ("adamax", {}),
    ("adamax", {"decay": 0.004}),
    ("nadam", {"factors": (3.1, 0.95, 1000.5)}),
    ("nadam", {"factors": (3.1, 0.95, 1000.5), "decay": 0.004}),
    ("adagrad", {}),
    ("adagrad", {"decay": 0.004}),
]
N_STATE = {"sgd": 1, "adam": 3, "rmsprop": 3, "adamax": 2, "nadam": 2, "adagrad": 1}


@pytest.mark.parametrize("n", [7, updates.CHUNK + 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{sorted(o)}" for n, o in CASES])
def test_every_step_and_option_matches_numpy(name, options, dtype, n):
    rng = np.random.default_rng(n)
    w, g = rng.standard_normal((2, n)).astype(dtype)
    state = [np.abs(0.1 * rng.standard_normal(n)).astype(dtype) for _ in range(N_STATE[name])]
    if name == "rmsprop" and options.get("centered"):  # a mean gradient below its mean square
        state[2] = (0.1 * state[0]).astype(dtype)
    for t in (1, 2, 3):
        g = rng.standard_normal(n).astype(dtype)
        want_w, want_state = numpy_step(name, w, g, state, t, **options)
        kernel_step(name, w, g, state, t, **options)
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(w, want_w, rtol=tol, atol=tol)
        for got, want in zip(state, want_state):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_options_off_leave_their_state_untouched_and_give_the_plain_bits():
    """decay = 0, amsgrad and centered off: the results of the plain formulas, bit for bit,
    and the unused state (v̂, the average) is never read or written."""
    w, g, m, v = arrays(40, np.float32, seed=3)
    plain = [x.copy() for x in (w, g, m, v)]
    updates.adam_update(*plain, 0.01, 0.9, 0.999, 1e-7, 0.0)
    updates.adam_update(w, g, m, v, 0.01, 0.9, 0.999, 1e-7, 0.0, None)
    assert all(np.array_equal(a, b) for a, b in zip(plain, (w, g, m, v)))
    w, g, m, v = arrays(40, np.float32, seed=4)
    plain = [x.copy() for x in (w, g, v, m)]
    updates.rmsprop_update(*plain, 0.01, 0.9, 0.5, 1e-7)
    updates.rmsprop_update(w, g, v, m, 0.01, 0.9, 0.5, 1e-7, 0.0, None)
    assert all(np.array_equal(a, b) for a, b in zip(plain, (w, g, v, m)))


def test_weight_decay_alone_shrinks_the_weights():
    """Keras's test_weight_decay: a zero gradient, λη = 0.004 three times: 2 → 1.9760959."""
    for name in ("sgd", "adam", "rmsprop", "adamax", "nadam", "adagrad"):
        w = np.full(1, 2.0, np.float32)
        state = [np.zeros(1, np.float32) for _ in range(N_STATE[name])]
        options = {"lr": 1.0, "decay": 0.004, "factors": (1.0, 1.0, 1.0)}
        for t in (1, 2, 3):
            kernel_step(name, w, np.zeros(1, np.float32), state, t, **options)
        np.testing.assert_allclose(w, [1.9760959], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    "call",
    [
        lambda w, g, m, v: updates.adam_update(w, g, m, v, 0.01, 0.9, 0.999, 1e-7, 0.0, v[:3]),
        lambda w, g, m, v: updates.rmsprop_update(w, g, v, m, 0.01, 0.9, 0.0, 1e-7, 0.0, v.astype(float)),
        lambda w, g, m, v: updates.adamax_update(w, g, m, v[:-1], 0.01, 0.9, 0.999, 1e-7),
        lambda w, g, m, v: updates.nadam_update(w, g[::2], m, v, 0.01, 0.9, 0.999, 1e-7, 1.0, 1.0, 1.0),
        lambda w, g, m, v: updates.adagrad_update(w, g, list(v), 0.01, 1e-7),
    ],
)
def test_new_updates_refuse_bad_arrays_before_any_update(call):
    w, g, m, v = arrays(8, np.float32)
    before = [x.copy() for x in (w, g, m, v)]
    with pytest.raises((ValueError, TypeError), match="w, its gradient and its state must be"):
        call(w, g, m, v)
    assert all(np.array_equal(a, b) for a, b in zip(before, (w, g, m, v)))


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{sorted(o)}" for n, o in CASES])
def test_cuda_runs_the_same_steps(name, options, monkeypatch):
    """Every step and option on the cuda backend equals the cpu's (runs where cuda can: on a
    GPU, or under NUMBA_ENABLE_CUDASIM=1)."""
    from densecore import kernels

    if "cuda" not in kernels.available():
        pytest.skip("no cuda backend here (NUMBA_ENABLE_CUDASIM=1 runs numba's simulator)")
    cuda_k = kernels.get("cuda")
    rng = np.random.default_rng(5)
    w, g = rng.standard_normal((2, 37)).astype(np.float32)
    state = [np.abs(0.1 * rng.standard_normal(37)).astype(np.float32) for _ in range(N_STATE[name])]
    copies = [w.copy(), [s.copy() for s in state]]
    kernel_step(name, w, g, state, 2, **options)
    monkeypatch.setattr(updates, f"{name}_update", getattr(cuda_k, f"{name}_update"))
    kernel_step(name, copies[0], g, copies[1], 2, **options)
    for got, want in zip([copies[0], *copies[1]], [w, *state]):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
