"""Fewer nodes: structured pruning, frozen layers, transfer learning, distillation."""

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc


def digits_model(hidden=32, seed=0, epochs=3):
    dc.set_seed(seed)
    (x, y), (xt, yt) = dc.datasets.load_digits()
    x, xt = dc.datasets.standardize(x, xt)
    model = dc.Sequential(
        [
            Dense(hidden, activation="relu"),
            dc.layers.Dropout(0.1),
            Dense(hidden, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:500], y[:500], epochs=epochs, verbose=0)
    return model, (x[:500], y[:500]), (xt, yt)


def zeroed(model, layer_index, consumer_index, removed):
    """The original model with the removed units' outgoing weights zeroed."""
    weights = model.get_weights()
    layers = model.layers
    position = {id(w): i for i, w in enumerate(model.weights)}
    kernel = position[id(layers[consumer_index].kernel)]
    weights[kernel] = weights[kernel].copy()
    weights[kernel][removed] = 0
    copy = dc.compress.clone(model)
    copy.set_weights(weights)
    return copy


@pytest.mark.parametrize("criterion", ["l2", "activation"])
def test_pruned_model_equals_original_with_removed_units_silenced(criterion):
    model, (x, _), (xt, _) = digits_model()
    small = dc.compress.prune_units(
        model, keep=12, layers=[model.layers[2].name], criterion=criterion, data=x, verbose=0
    )
    assert small.layers[2].units == 12 and small.layers[3].kernel.shape == (12, 10)
    kept_kernel = small.layers[2].kernel.data
    full_kernel = model.layers[2].kernel.data
    kept = [
        j for j in range(32) if any(np.array_equal(full_kernel[:, j], kept_kernel[:, i]) for i in range(12))
    ]
    removed = sorted(set(range(32)) - set(kept))
    reference = zeroed(model, 2, 3, removed)
    np.testing.assert_allclose(small.predict(xt), reference.predict(xt), atol=1e-5)


def test_l2_criterion_keeps_the_strongest_units():
    model = dc.Sequential([Dense(4, input_shape=(3,)), Dense(2)])
    w1 = np.ones((3, 4), np.float32) * np.array([1, 5, 2, 3], np.float32)
    w2 = np.ones((4, 2), np.float32)
    model.set_weights([w1, np.zeros(4), w2, np.zeros(2)])
    small = dc.compress.prune_units(model, keep=2, verbose=0)
    np.testing.assert_array_equal(small.layers[0].kernel.data[0], [5, 3])


def test_default_prunes_every_hidden_dense_and_reports():
    model, (x, y), (xt, yt) = digits_model()
    small = dc.compress.prune_units(model, amount=0.5, verbose=0)
    assert [layer.units for layer in small.layers if isinstance(layer, Dense)] == [16, 16, 10]
    assert small.count_params() == 64 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    assert [r["units"] for r in small.pruning_report][:2] == [(32, 16), (32, 16)]
    assert model.layers[0].units == 32  # the original is untouched
    assert small.fit(x, y, epochs=1, verbose=0).history["loss"]


def test_subclassed_model_pruning_follows_the_call_graph():
    class Net(dc.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(10, activation="relu")
            self.act = dc.layers.Activation("tanh")
            self.out = Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.out(self.act(self.hidden(inputs)))

    model = Net()
    model.build((None, 30))
    small = dc.compress.prune_units(model, keep=4, verbose=0)
    assert small.hidden.units == 4 and small.out.kernel.shape == (4, 1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(amount=1.0), ["amount"]),
        (dict(amount=-0.1), ["amount"]),
        (dict(keep=0), ["keep"]),
        (dict(keep=99), ["more than the 32 units"]),
        (dict(amount=0.5, keep=3), ["exactly one"]),
        (dict(amount=0.5, layers=["dense_out"]), ["output layer"]),
        (dict(amount=0.5, layers=["ghost"]), ["no layer named 'ghost'"]),
        (dict(amount=0.5, criterion="activation"), ["needs data"]),
        (dict(amount=0.5, criterion="activation", data=np.ones((3, 7))), ["(samples, 64)"]),
        (dict(amount=0.5, criterion="random"), ["criterion"]),
    ],
)
def test_bad_pruning_arguments(kwargs, words):
    model = dc.Sequential([Dense(32, input_shape=(64,)), Dense(10, name="dense_out")])
    before = model.get_weights()
    with pytest.raises(ValueError) as info:
        dc.compress.prune_units(model, verbose=0, **kwargs)
    for word in words:
        assert word in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def backward_calls(model, x, y):
    from densecore.engine import backend

    calls = []
    kernels = backend.kernels()
    original = kernels.dense_backward

    def spy(*args, need_dx=True, need_dw=True, **kwargs):
        calls.append((need_dx, need_dw))
        return original(*args, need_dx=need_dx, need_dw=need_dw, **kwargs)

    kernels.dense_backward = spy
    try:
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x[:32], y[:32], epochs=1, batch_size=32, verbose=0)
    finally:
        kernels.dense_backward = original
    return calls


def test_frozen_layers_skip_weight_gradients_and_optimizer_state():
    model, (x, y), _ = digits_model()
    model.layers[2].trainable = False  # a frozen middle layer: dX yes, dW no
    # (need_dx, need_dw) for the head, the frozen middle layer, the first layer (no dX)
    assert backward_calls(model, x, y) == [(True, True), (True, False), (False, True)]
    assert len(model.optimizer._state) == 4  # kernels and biases of the two trainable layers
    for layer in model.layers[:-1]:
        layer.trainable = False
    # a frozen prefix records no graph at all: only the head's backward runs, without dX
    assert backward_calls(model, x, y) == [(False, True)]
    assert len(model.optimizer._state) == 2


def test_transfer_learning_round_trip(tmp_path):
    dc.set_seed(0)
    (x, y), (xt, yt) = dc.datasets.load_digits()
    x, xt = dc.datasets.standardize(x, xt)
    first, second = y < 5, y >= 5
    base = dc.Sequential(
        [Dense(32, activation="relu"), Dense(32, activation="relu"), Dense(5, activation="softmax")]
    )
    base.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    base.fit(x[first], y[first], epochs=3, verbose=0)
    base.save(tmp_path / "base.dc")
    loaded = dc.load_model(tmp_path / "base.dc")
    loaded.pop()
    for layer in loaded.layers:
        layer.trainable = False
    loaded.add(Dense(5, activation="softmax"))
    hidden_before = [w.copy() for w in loaded.layers[0].get_weights()]
    loaded.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loaded.fit(x[second][:100], y[second][:100] - 5, epochs=5, verbose=0)
    for a, b in zip(hidden_before, loaded.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert (
        loaded.count_params() - sum(w.size for w in loaded.trainable_weights) == 64 * 32 + 32 + 32 * 32 + 32
    )
    reused = dc.Sequential(loaded.layers[:2] + [Dense(5, activation="softmax")])
    assert reused.built and reused.output_shape == (None, 5)


def test_distillation_reduces_its_loss():
    teacher, (x, y), _ = digits_model(hidden=32, epochs=3)
    student = dc.Sequential([Dense(8, activation="relu"), Dense(10, activation="softmax")])
    history = dc.compress.distill(teacher, student, x, y, temperature=3.0, epochs=3, verbose=0)
    assert history[-1] < history[0]
    with pytest.raises(ValueError, match="temperature"):
        dc.compress.distill(teacher, student, x, temperature=0)
