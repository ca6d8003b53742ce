"""Files written by the previous release load. tests/nn/data/densecore-0.1-mse.dc was written
by densecore 0.1 (commit aa7a091): Sequential Dense(4, relu) -> Dense(2), compiled with adam,
mse and mae, fit one epoch on ones((8, 3)) -> ones((8, 2)); its predictions then are below."""

import pathlib

import numpy as np

import densecore as dc

DATA = pathlib.Path(__file__).parent / "data"
PREDICTED_BY_0_1 = [[-0.09871029108762741, 0.19627511501312256]] * 2


def test_a_model_saved_by_densecore_0_1_loads_compiled_and_predicts_the_same():
    """0.1 saved from_logits=False for MeanSquaredError too, which takes no such setting now."""
    model = dc.load_model(DATA / "densecore-0.1-mse.dc")
    assert type(model.loss).__name__ == "MeanSquaredError"
    assert [m.name for m in model.compiled_metrics] == ["mae"]
    np.testing.assert_array_equal(model.predict(np.ones((2, 3), np.float32)), np.float32(PREDICTED_BY_0_1))
    model.fit(np.ones((8, 3)), np.ones((8, 2)), verbose=0)  # and it trains on


def test_a_quantized_model_saved_by_densecore_0_1_predicts_the_same():
    """densecore-0.1-int8.dc: dc.quantize (static, calibrated) of a 5-6-3 relu/softmax model,
    written by 0.1; the integer kernels changed since (packed panels, SIMD), the results did not."""
    x = np.random.default_rng(0).standard_normal((16, 5)).astype(np.float32)
    expected = [
        [0.408691942691803, 0.2963131070137024, 0.29499495029449463],
        [0.5297421813011169, 0.26496604084968567, 0.205291748046875],
        [0.5213052034378052, 0.35567614436149597, 0.12301868945360184],
        [0.23835453391075134, 0.4069541394710541, 0.3546913266181946],
    ]
    model = dc.load_model(DATA / "densecore-0.1-int8.dc")
    np.testing.assert_array_equal(model.predict(x[:4]), np.float32(expected))
