"""The sweep: one compression knob swept over its values, accuracy and size of each result."""

import warnings

from .lowrank import low_rank


def _score(model, x, y):
    result = model.evaluate(x, y, return_dict=True)
    metric = next((k for k in result if k != "loss"), "loss")
    return metric, result[metric]


def sweep(
    model,
    x,
    y,
    ranks,
    fine_tune_epochs=3,
    validation_data=None,
    layers=None,
    batch_size=32,
    plot=None,
    verbose=1,
):
    """Compress `model` at each rank, score it, fine-tune it, score it again.

    Args:
        model: a built, compiled model.
        x, y: fine-tuning data.  validation_data: (x, y) to score on (default: x, y).
        ranks: the ranks to try.  fine_tune_epochs: epochs of fit after compression.
        layers: as low_rank.  plot: a file name for a PNG of accuracy against parameters
            (needs matplotlib).

    Returns:
        A list of dicts: rank, params, flops, score before and after fine-tuning (the first
        compiled metric, else the loss), with the dense original as rank None.
    """
    model._require_compiled("compress.sweep")
    x_val, y_val = validation_data if validation_data is not None else (x, y)
    metric, base = _score(model, x_val, y_val)
    rows = [
        {
            "rank": None,
            "params": model.count_params(),
            "flops": sum(layer.flops_per_sample() for layer in model.layers),
            "before": base,
            "after": base,
        }
    ]
    for rank in ranks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            small = low_rank(model, rank=rank, layers=layers, verbose=0)
        before = _score(small, x_val, y_val)[1]
        if fine_tune_epochs:
            small.fit(x, y, epochs=fine_tune_epochs, batch_size=batch_size, verbose=0)
        rows.append(
            {
                "rank": rank,
                "params": small.count_params(),
                "flops": sum(layer.flops_per_sample() for layer in small.layers),
                "before": before,
                "after": _score(small, x_val, y_val)[1],
            }
        )
    if verbose:
        print(f"{'rank':>6}{'params':>10}{'FLOPs':>10}{metric + ' before':>20}{'after':>10}")
        for row in rows:
            print(
                f"{'dense' if row['rank'] is None else row['rank']:>6}{row['params']:>10,}"
                f"{row['flops']:>10,}{row['before']:>20.4f}{row['after']:>10.4f}"
            )
    if plot:
        _plot_sweep(rows, metric, plot)
    return rows


def _plot_sweep(rows, metric, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("compress.sweep(plot=...) needs matplotlib: pip install densecore[plot]") from exc
    fig, ax = plt.subplots(figsize=(5, 3.5))
    params = [r["params"] for r in rows]
    ax.plot(params, [r["before"] for r in rows], "o--", label="after SVD")
    ax.plot(params, [r["after"] for r in rows], "o-", label="after fine-tuning")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(metric)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
