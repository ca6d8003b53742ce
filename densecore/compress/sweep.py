"""The sweep: one compression knob swept over its values, accuracy and size of each result;
and the Pareto report: every method on one table, accuracy against bytes and predict time."""

import time
import warnings

import numpy as np

from .lowrank import check_data, low_rank
from .pruning import prune_units
from .quantization import model_bytes, quantize, quantize_aware
from .surgery import clone


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


# ---- one Pareto report: every method on one table ------------------------------------------
def _predict_time(model, x, repeats):
    model.predict(x, batch_size=256)  # warm: the first call may compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(x, batch_size=256)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _front(points):
    """Indices of the points no other point beats: at least as accurate and no more costly,
    better in one. points: [(score, cost)]; a higher score is better."""
    return {
        i
        for i, (s, c) in enumerate(points)
        if not any((s2 >= s and c2 <= c) and (s2 > s or c2 < c) for s2, c2 in points)
    }


def pareto(
    model,
    x,
    y,
    validation_data=None,
    ranks=(4, 16),
    keep=(32,),
    bits=(8, 4),
    fine_tune_epochs=2,
    batch_size=32,
    repeats=5,
    plot=None,
    title=None,
    verbose=1,
):
    """Every compression method on one table: accuracy against bytes and predict time.

    Methods: low rank (plain SVD, and data-aware on x) at each of `ranks` for every Dense
    whose factorisation saves parameters; pruning each hidden layer to `keep` units (l2);
    post-training quantization (static, calibrated on x) and quantization-aware training at
    each of `bits`. Each is scored right after compression and again after
    `fine_tune_epochs` epochs of fit on (x, y) (PTQ models cannot fit: scored once; QAT
    always trains, so it is scored after). A point is on the Pareto front when no other
    point is at least as accurate and no larger (or no slower), better in one.

    Args:
        model: a built, compiled model.  x, y: fine-tuning and calibration data.
        validation_data: (x, y) to score and time on (default: x, y).
        ranks, keep, bits: the settings of each method.  fine_tune_epochs: epochs after.
        repeats: predict calls timed (the median is kept).
        plot: a PNG file name for the two panels (needs matplotlib); title: its title.

    Returns:
        A list of dicts: method, setting, tuned (whether fine-tuned), params, bytes,
        predict_s, score (the first compiled metric, else the loss), front_bytes and
        front_time (on the Pareto front of score against bytes, against time).
    """
    model._require_compiled("compress.pareto")
    x = check_data(model, x, "compress.pareto", "x")
    x_val, y_val = validation_data if validation_data is not None else (x, y)
    metric = _score(model, x_val, y_val)[0]
    hidden = model.layers[:-1]
    makers = [("dense", "", lambda: clone(model), False)]
    for r in ranks:
        makers.append(("low rank", f"r={r}", lambda r=r: low_rank(model, rank=r, verbose=0), True))
        makers.append(
            ("low rank + data", f"r={r}", lambda r=r: low_rank(model, rank=r, data=x, verbose=0), True)
        )
    for k in keep:
        if any(layer.units > k for layer in hidden):
            makers.append(("prune", f"{k} units", lambda k=k: prune_units(model, keep=k, verbose=0), True))
    for b in bits:
        makers.append(("PTQ", f"int{b}", lambda b=b: quantize(model, num_bits=b, calibration_data=x), False))
        makers.append(("QAT", f"int{b}", lambda b=b: quantize_aware(model, num_bits=b), None))
    rows = []

    def add(method, setting, tuned, small, params):
        rows.append(
            {
                "method": method,
                "setting": setting,
                "tuned": tuned,
                "params": params,
                "bytes": model_bytes(small),
                "predict_s": _predict_time(small, x_val, repeats),
                "score": _score(small, x_val, y_val)[1],
            }
        )

    for method, setting, make, trains in makers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            small = make()
        params = small.count_params()
        if trains is None:  # QAT: train, then convert to integers
            small.fit(x, y, epochs=max(fine_tune_epochs, 1), batch_size=batch_size, verbose=0)
            add(method, setting, True, small.convert(), params)
            continue
        add(method, setting, False, small, params)
        if trains and fine_tune_epochs:
            small.fit(x, y, epochs=fine_tune_epochs, batch_size=batch_size, verbose=0)
            add(method, setting, True, small, params)
    for cost in ("bytes", "predict_s"):
        front = _front([(row["score"], row[cost]) for row in rows])
        for i, row in enumerate(rows):
            row["front_" + ("bytes" if cost == "bytes" else "time")] = i in front
    if verbose:
        print(format_pareto(rows, metric))
    if plot:
        _plot_pareto(rows, metric, plot, title)
    return rows


def format_pareto(rows, metric="accuracy") -> str:
    """The Pareto report as a table; * marks the front (by bytes, by time)."""
    lines = [
        f"{'method':<17}{'setting':>10}{'tuned':>7}{'params':>9}{'bytes':>10}{'predict ms':>12}"
        f"{metric:>10}  front"
    ]
    for row in rows:
        marks = ("B" if row["front_bytes"] else "-") + ("T" if row["front_time"] else "-")
        lines.append(
            f"{row['method']:<17}{row['setting']:>10}{'yes' if row['tuned'] else 'no':>7}{row['params']:>9,}"
            f"{row['bytes']:>10,}{row['predict_s'] * 1e3:>12.2f}{row['score']:>10.4f}  {marks}"
        )
    return "\n".join(lines)


def _plot_pareto(rows, metric, path, title=None):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("compress.pareto(plot=...) needs matplotlib: pip install densecore[plot]") from exc
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    colors = dict(zip(methods, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, cost, front, label in (
        (axes[0], "bytes", "front_bytes", "bytes of the weights"),
        (axes[1], "predict_s", "front_time", "predict time (s)"),
    ):
        for row in rows:
            ax.plot(
                row[cost],
                row["score"],
                "o" if row["tuned"] else "s",
                color=colors[row["method"]],
                fillstyle="full" if row["tuned"] else "none",
                label=f"{row['method']}{' (fine-tuned)' if row['tuned'] else ''}",
            )
        pts = sorted((row[cost], row["score"]) for row in rows if row[front])
        ax.step(*zip(*pts), "k--", where="post", linewidth=1, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(metric)
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    axes[1].legend(unique.values(), unique.keys(), fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
