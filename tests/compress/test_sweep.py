"""The Pareto report: every method on one table, the front marked, the plot written."""

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc


def test_pareto_table_front_and_plot(tmp_path):
    dc.set_seed(0)
    (x, y), (xt, yt) = dc.datasets.load_breast_cancer()
    x, xt = dc.datasets.standardize(x, xt)
    model = dc.Sequential(
        [Dense(16, activation="relu"), Dense(16, activation="relu"), Dense(1, activation="sigmoid")]
    )
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    pytest.importorskip("matplotlib")
    rows = dc.compress.pareto(
        model,
        x,
        y,
        validation_data=(xt, yt),
        ranks=(2,),
        keep=(8,),
        bits=(8,),
        fine_tune_epochs=1,
        repeats=1,
        plot=tmp_path / "p.png",
        verbose=0,
    )
    methods = {(row["method"], row["tuned"]) for row in rows}
    assert {("dense", False), ("low rank", False), ("low rank", True), ("low rank + data", True)} <= methods
    assert {("prune", True), ("PTQ", False), ("QAT", True)} <= methods
    for cost, front in (("bytes", "front_bytes"), ("predict_s", "front_time")):
        on = [row for row in rows if row[front]]
        assert on
        for row in on:  # nothing beats a front point
            assert not any(
                o["score"] >= row["score"]
                and o[cost] <= row[cost]
                and (o["score"] > row["score"] or o[cost] < row[cost])
                for o in rows
            )
    best = max(row["score"] for row in rows)
    assert any(row["front_bytes"] and row["score"] == best for row in rows)
    assert min(row["bytes"] for row in rows) < rows[0]["bytes"]
    assert (tmp_path / "p.png").stat().st_size > 0
    assert "front" in dc.compress.format_pareto(rows)
    with pytest.raises(ValueError, match="x must have shape"):
        dc.compress.pareto(model, np.ones((3, 2)), y, verbose=0)
