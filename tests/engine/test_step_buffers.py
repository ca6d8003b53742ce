"""A training step writes into the arrays of the step before: same bits, no allocation, no leaks."""

import tracemalloc

import numpy as np
from densecore.layers import Dense, learning_phase

import densecore as dc
from densecore.engine.tensor import Tensor


def digits_like(n=96, features=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)


class Shared(dc.Model):
    """One Dense applied twice per step: two nodes, one kernel."""

    def __init__(self):
        super().__init__()
        self.inner = Dense(12, activation="tanh")
        self.head = Dense(4, activation="softmax")

    def call(self, inputs):
        return self.head(self.inner(self.inner(inputs)))


def make(kind):
    dc.set_seed(7)
    if kind == "shared":
        model = Shared()
    else:
        model = dc.Sequential(
            [Dense(16, activation="relu"), Dense(16, activation="relu"), Dense(4, activation="softmax")]
        )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.build((None, 12))
    return model


def by_hand(model, x, y, batch_size):
    """The same steps with no kept arrays: every kernel allocates its results."""
    for start in range(0, len(x), batch_size):
        with learning_phase(True):
            y_pred = model(Tensor(x[start : start + batch_size]))
        model._total_loss(y[start : start + batch_size], y_pred).backward()
        model.optimizer.apply(model.trainable_weights)


def test_fit_with_kept_arrays_trains_bitwise_like_fresh_ones():
    x, y = digits_like()
    for kind in ("sequential", "shared"):
        fitted, manual = make(kind), make(kind)
        fitted.fit(x, y, batch_size=20, epochs=3, shuffle=False, verbose=0)  # 96 = 4 × 20 + 16
        for _ in range(3):
            by_hand(manual, x, y, 20)
        for a, b in zip(fitted.get_weights(), manual.get_weights()):
            assert np.array_equal(a, b), kind


def test_a_steady_training_step_allocates_less_than_one_activation():
    """No per-step allocation on the hot path: after the first steps, a step's peak traced
    allocation (numpy and numba both report to tracemalloc) stays below the size of one
    hidden activation, which it used to allocate several times over."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((256, 32)).astype(np.float32), rng.integers(0, 10, 256)
    dc.set_seed(0)
    model = dc.Sequential(
        [Dense(64, activation="relu"), Dense(64, activation="relu"), Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for _ in range(2):
        model.train_on_batch(x, y)
    tracemalloc.start()
    try:
        model.train_on_batch(x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 64 * 4, peak


def test_outside_a_training_step_every_result_is_new():
    x, y = digits_like()
    model = make("sequential")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    first = model(Tensor(x[:8])).data
    kept = first.copy()
    second = model(Tensor(x[:8])).data
    prediction = model.predict(x[:8], verbose=0)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert second is not first and np.array_equal(first, kept)
    assert np.array_equal(prediction, kept)  # untouched by the fit after it


def test_a_cloned_model_copies_no_kept_arrays():
    x, y = digits_like()
    model = make("sequential")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    clone = dc.compress.clone(model)
    assert all(not kept._sets for kept in clone._step_buffers.values())
    clone.fit(x, y, batch_size=32, epochs=1, verbose=0)  # and trains, making its own
    assert all(kept._sets for kept in clone._step_buffers.values())


def test_another_thread_never_writes_into_a_steps_arrays():
    import threading

    from densecore.engine import step_buffers

    seen = []
    kept = step_buffers.StepBuffers()
    with step_buffers.reusing(kept):
        worker = threading.Thread(target=lambda: seen.append(step_buffers.for_node()))
        worker.start()
        worker.join()
        assert step_buffers.for_node() is not None  # this thread is inside the step
    assert seen == [None]  # the other one is not


def test_learning_phase_and_no_grad_are_per_thread():
    """A model called in one thread while another is inside a training step's learning phase
    (and a no_grad block) runs in inference mode and records its graph as usual."""
    import threading

    from densecore.engine.tensor import no_grad

    dc.set_seed(3)
    model = dc.Sequential([Dense(32), dc.layers.Dropout(0.5)])
    x = np.ones((4, 6), np.float32)
    want = model(Tensor(x)).data.copy()
    seen = {}

    def other_thread():
        seen["y"] = model(Tensor(x)).data.copy()
        seen["records"] = (Tensor([1.0], requires_grad=True) * 2).requires_grad

    with learning_phase(True), no_grad():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert np.array_equal(seen["y"], want) and seen["records"]
