"""Suite `compress`: accuracy, size and speed of the cheaper dense layers, on digits.

lowrank   MLP 64-256-256-10, both hidden layers as rank-16 products, fine-tuned 5 epochs
prune     the same MLP pruned to 64-64-64-10 (l2 criterion), fine-tuned 5 epochs;
          predict time at batch 256 against the FLOP ratio
transfer  hidden layers trained on digits 0-4, frozen under a new head for digits 5-9
          (100 samples): epoch time frozen vs trainable, and accuracy head-only, after
          unfreezing at a tenth of the learning rate, and from scratch
data      (issue #23) plain against data-aware low rank (fit="output") of the hidden layers,
          per rank, before fine-tuning, on digits and breast cancer (30-64-64-1); fit_budget against one rank
          for all layers at the same parameter count, before and after 2 epochs; the Pareto
          report of every method (written as compress_pareto_<model>.png under --plot DIR)
quantize  breast cancer (30-32-1) and the digits MLP: test accuracy of int8 static and
          dynamic post-training quantization, 4-bit PTQ and 4-bit QAT (fine-tuned 5 epochs
          at the training rate, then 5 at a tenth), and the bytes of the weights
"""

import numpy as np

from .method import Candidate, measure, summary


def _mlp(dc, hidden, outputs=10):
    return dc.Sequential(
        [
            dc.layers.Dense(hidden, activation="relu"),
            dc.layers.Dense(hidden, activation="relu"),
            dc.layers.Dense(outputs, activation="softmax"),
        ]
    )


def _numpy_predict(weights, x):
    """The same forward in numpy (BLAS matmuls): relu hidden layers, softmax output."""
    for i, (w, b) in enumerate(weights):
        x = x @ w + b
        if i < len(weights) - 1:
            x = np.maximum(x, 0)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _torch_predict(weights, x):
    """The same forward as a torch.nn.Sequential under no_grad, if torch is installed."""
    try:
        import torch
    except ImportError:
        return []
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU() if i < len(weights) - 1 else torch.nn.Softmax(dim=1)]
    net, tx = torch.nn.Sequential(*layers).eval(), torch.from_numpy(x)

    def run():
        with torch.no_grad():
            return net(tx).numpy()

    return [Candidate("torch", run, library="torch")]


def _compiled(dc, model, lr=0.001):
    model.compile(dc.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _acc(model, x, y):
    return model.evaluate(x, y, return_dict=True)["accuracy"]


def run_compress(args, rows):
    import densecore as dc

    epochs = 2 if args.quick else 20
    fine = 1 if args.quick else 5
    dc.set_seed(0)
    (x, y), (xt, yt) = dc.datasets.load_digits()
    x, xt = dc.datasets.standardize(x, xt)
    base = _compiled(dc, _mlp(dc, 256))
    base.fit(x, y, epochs=epochs, verbose=0)
    base_acc = _acc(base, xt, yt)
    print(
        f"dense 64-256-256-10: {base.count_params():,} params, test accuracy {base_acc:.2%} "
        f"after {epochs} epochs"
    )

    hidden = [layer.name for layer in base.layers[:2]]
    low = dc.compress.low_rank(base, rank=16, layers=hidden, verbose=0)
    low_before = _acc(low, xt, yt)
    low.fit(x, y, epochs=fine, verbose=0)
    low_after = _acc(low, xt, yt)
    print(
        f"low rank 16: {low.count_params():,} params (256×256 layer {256 * 256 + 256:,} → "
        f"{16 * 512 + 256:,}), accuracy {low_before:.2%} after SVD, {low_after:.2%} after "
        f"{fine} epochs: {100 * (low_after - base_acc):+.2f} points"
    )
    rows.append(
        {
            "suite": "compress",
            "case": "lowrank16",
            "op": "accuracy",
            "backend": "cpu",
            "base": base_acc,
            "before": low_before,
            "after": low_after,
        }
    )

    pruned = dc.compress.prune_units(base, keep=64, verbose=0)
    pruned_before = _acc(pruned, xt, yt)
    pruned.fit(x, y, epochs=fine, verbose=0)
    pruned_after = _acc(pruned, xt, yt)
    flops = [sum(layer.flops_per_sample() for layer in m.layers) for m in (base, pruned)]
    batch = np.ascontiguousarray(np.resize(xt, (256, 64)))
    cands = {}
    for name, m in (("dense", base), ("pruned", pruned)):
        weights = [layer.get_weights() for layer in m.layers]
        cands[name] = [
            Candidate("densecore", (lambda m=m: m.predict(batch, batch_size=256)), library="numba"),
            Candidate("numpy", (lambda w=weights: _numpy_predict(w, batch)), library="blas"),
            *_torch_predict(weights, batch),
        ]
    measure(
        [c for pair in zip(cands["dense"], cands["pruned"]) for c in pair],
        rounds=args.rounds or (2 if args.quick else 5),
        block=0.02 if args.quick else 0.2,
        gap=0.0 if args.quick else 0.2,
    )
    flop_ratio = flops[0] / flops[1]
    t_base, t_pruned = (summary(cands[k][0].samples)["median"] for k in ("dense", "pruned"))
    print(
        f"pruned to 64-64-64-10: {pruned.count_params():,} params, accuracy {pruned_before:.2%} "
        f"pruned, {pruned_after:.2%} after {fine} epochs: {100 * (pruned_after - base_acc):+.2f} "
        f"points; predict at batch 256 (FLOP ratio {flop_ratio:.2f}):"
    )
    for dense_c, pruned_c in zip(cands["dense"], cands["pruned"]):
        td, tp = summary(dense_c.samples)["median"], summary(pruned_c.samples)["median"]
        print(
            f"    {dense_c.name:>9}: {td * 1e6:5.0f} → {tp * 1e6:4.0f} us, {td / tp:.2f}× faster "
            f"({td / tp / flop_ratio:.0%} of the FLOP ratio)"
        )
    rows.append(
        {
            "suite": "compress",
            "case": "prune64",
            "op": "accuracy+predict",
            "backend": "cpu",
            "base": base_acc,
            "before": pruned_before,
            "after": pruned_after,
            "predict_dense_s": t_base,
            "predict_pruned_s": t_pruned,
            "flop_ratio": flop_ratio,
            "predict_s_by_library": {
                d.name: [summary(d.samples)["median"], summary(p.samples)["median"]]
                for d, p in zip(cands["dense"], cands["pruned"])
            },
        }
    )
    _transfer(dc, args, rows, x, y, xt, yt)
    _data_aware(dc, args, rows, base, (x, y, xt, yt))
    _quantization(dc, args, rows, base, (x, y, xt, yt))


def _quantization(dc, args, rows, digits_model, digits):
    """Accuracy of every quantization against float, on two datasets (points lost)."""
    dc.set_seed(0)
    (bx, by), (bxt, byt) = dc.datasets.load_breast_cancer()
    bx, bxt = dc.datasets.standardize(bx, bxt)
    cancer = dc.Sequential([dc.layers.Dense(32, activation="relu"), dc.layers.Dense(1, activation="sigmoid")])
    cancer.compile(dc.optimizers.Adam(0.001), "binary_crossentropy", metrics=["accuracy"])
    cancer.fit(bx, by, epochs=3 if args.quick else 30, verbose=0)
    fine = 1 if args.quick else 5
    print(
        f"{'model':>14} {'float':>7} {'int8 static':>12} {'int8 dynamic':>13} "
        f"{'7-bit inputs':>12} {'4-bit PTQ':>10} {'4-bit QAT':>10}"
    )
    for name, model, (x, y, xt, yt) in (
        ("breast cancer", cancer, (bx, by, bxt, byt)),
        ("digits", digits_model, digits),
    ):
        dc.set_seed(0)
        base = _acc(model, xt, yt)
        qat = dc.quantize_aware(model, num_bits=4)
        for lr in (0.001, 0.0001):  # the recipe: a few epochs at the training rate, then at a tenth
            qat.optimizer.learning_rate = lr
            qat.fit(x, y, epochs=fine, verbose=0)
        accs = {
            "int8_static": _acc(dc.quantize(model, calibration_data=x), xt, yt),
            "int8_dynamic": _acc(dc.quantize(model), xt, yt),
            # reduce_range: the inputs in 7 bits, [-64, 63], where AVX2 CPUs without VNNI run
            # vpmaddubsw (#21); the weights keep 8
            "int8_reduce_range": _acc(dc.quantize(model, calibration_data=x, reduce_range=True), xt, yt),
            "int4_ptq": _acc(dc.quantize(model, num_bits=4, calibration_data=x), xt, yt),
            "int4_qat": _acc(qat.convert(), xt, yt),
        }
        lost = {k: 100 * (v - base) for k, v in accs.items()}
        print(f"{name:>14} {base:>7.2%} " + " ".join(f"{lost[k]:>+11.2f}" for k in accs) + "  (points)")
        rows.append(
            {
                "suite": "compress",
                "case": f"quantize_{name.replace(' ', '_')}",
                "op": "accuracy",
                "backend": "cpu",
                "base": base,
                **accs,
            }
        )
    int8 = dc.quantize(digits_model, calibration_data=digits[0])
    kernels_float = sum(layer.kernel.data.nbytes for layer in digits_model.layers)
    kernels_int8 = sum(layer.get_weights()[0].nbytes for layer in int8.layers)
    print(
        f"digits kernels: {kernels_float:,} bytes float32 → {kernels_int8:,} bytes int8 "
        f"({kernels_float / kernels_int8:.1f}× fewer); whole model "
        f"{dc.quantization.model_bytes(digits_model):,} → {dc.quantization.model_bytes(int8):,} bytes"
    )


def _transfer(dc, args, rows, x, y, xt, yt):
    epochs = 3 if args.quick else 30
    first, second = y < 5, y >= 5
    dc.set_seed(1)
    source = _compiled(dc, _mlp(dc, 256, outputs=5))
    source.fit(x[first], y[first], epochs=5 if args.quick else 20, verbose=0)
    few_x, few_y = x[second][:100], y[second][:100] - 5
    test_x, test_y = xt[yt >= 5], yt[yt >= 5] - 5

    def head_on(frozen):
        model = dc.Sequential(
            [dc.compress.clone(source).layers[i] for i in range(2)]
            + [dc.layers.Dense(5, activation="softmax")]
        )
        for layer in model.layers[:2]:
            layer.trainable = not frozen
        return _compiled(dc, model)

    frozen, trainable = head_on(True), head_on(False)
    big_x = np.resize(x[second], (4096, 64))
    big_y = np.resize(y[second] - 5, 4096)
    cands = [
        Candidate(
            name, (lambda m=m: m.fit(big_x, big_y, epochs=1, batch_size=32, verbose=0)), library="numba"
        )
        for name, m in (("frozen", frozen), ("trainable", trainable))
    ]
    measure(cands, rounds=args.rounds or (1 if args.quick else 5), block=0.0 if args.quick else 0.3, gap=0.0)
    t_frozen, t_train = (summary(c.samples)["median"] for c in cands)

    dc.set_seed(1)  # the timing above ran a timing-dependent number of epochs: reseed, so the
    model = head_on(True)  # new head's weights and the shuffles are the same in every run
    model.fit(few_x, few_y, epochs=epochs, batch_size=16, verbose=0)
    head_acc = _acc(model, test_x, test_y)
    for layer in model.layers[:2]:
        layer.trainable = True
    model.compile(dc.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(few_x, few_y, epochs=epochs, batch_size=16, verbose=0)
    tuned_acc = _acc(model, test_x, test_y)
    dc.set_seed(2)
    scratch = _compiled(dc, _mlp(dc, 256, outputs=5))
    scratch.fit(few_x, few_y, epochs=epochs, batch_size=16, verbose=0)
    scratch_acc = _acc(scratch, test_x, test_y)
    trainable_params = sum(w.size for w in frozen.trainable_weights)
    print(
        f"transfer 0-4 → 5-9 (100 samples, {epochs} epochs): epoch on 4096 samples "
        f"{t_train * 1e3:.0f} ms trainable → {t_frozen * 1e3:.0f} ms frozen ({t_train / t_frozen:.2f}× "
        f"faster; {trainable_params:,} of {frozen.count_params():,} parameters trained); accuracy "
        f"head only {head_acc:.2%}, then unfrozen at lr/10 {tuned_acc:.2%}, from scratch {scratch_acc:.2%}"
    )
    rows.append(
        {
            "suite": "compress",
            "case": "transfer",
            "op": "epoch+accuracy",
            "backend": "cpu",
            "epoch_frozen_s": t_frozen,
            "epoch_trainable_s": t_train,
            "head_only": head_acc,
            "unfrozen": tuned_acc,
            "scratch": scratch_acc,
        }
    )


def _data_aware(dc, args, rows, digits_model, digits):
    """Issue #23: data-aware low rank, budgets, and the Pareto report, on both models."""
    import os
    import warnings

    dc.set_seed(0)
    (bx, by), (bxt, byt) = dc.datasets.load_breast_cancer()
    bx, bxt = dc.datasets.standardize(bx, bxt)
    cancer = dc.Sequential(
        [
            dc.layers.Dense(64, activation="relu"),
            dc.layers.Dense(64, activation="relu"),
            dc.layers.Dense(1, activation="sigmoid"),
        ]
    )
    cancer.compile(dc.optimizers.Adam(0.001), "binary_crossentropy", metrics=["accuracy"])
    cancer.fit(bx, by, epochs=3 if args.quick else 30, verbose=0)
    for name, model, (x, y, xt, yt), ranks in (
        ("digits", digits_model, digits, (1, 2, 4, 8, 16, 32)),
        ("breast_cancer", cancer, (bx, by, bxt, byt), (1, 2, 4, 8, 16)),
    ):
        base = _acc(model, xt, yt)
        hidden = [layer.name for layer in model.layers[:2]]
        print(f"{name}: test accuracy {base:.2%}; hidden layers factorised, no fine-tuning")
        print(f"{'rank':>6} {'plain SVD':>10} {'data-aware':>11} {'recovered':>10}")
        for r in ranks:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plain = _acc(dc.compress.low_rank(model, rank=r, layers=hidden, verbose=0), xt, yt)
                aware = _acc(dc.compress.low_rank(model, rank=r, layers=hidden, data=x, verbose=0), xt, yt)
            lost = base - plain
            # (the share is asked for where plain SVD loses at least one point)
            recovered = f"{(aware - plain) / lost:.0%}" if lost >= 0.01 else "-"
            print(f"{r:>6} {plain:>10.2%} {aware:>11.2%} {recovered:>10}")
            rows.append(
                {
                    "suite": "compress",
                    "case": f"data_aware_{name}_r{r}",
                    "op": "accuracy",
                    "backend": "cpu",
                    "base": base,
                    "plain": plain,
                    "data_aware": aware,
                }
            )
        print(
            f"{'rank':>6} {'params':>8} {'uniform':>9} {'budget':>9} {'ranks':>20} "
            f"{'uniform 2ep':>12} {'budget 2ep':>11}"
        )
        for r in ranks[2:5]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                uniform = dc.compress.low_rank(model, rank=r, layers=hidden, data=x, verbose=0)
                budget = dc.compress.fit_budget(
                    model, x, params=uniform.count_params(), layers=hidden, verbose=0
                )
            before = [_acc(m, xt, yt) for m in (uniform, budget)]
            dc.set_seed(0)
            uniform.fit(x, y, epochs=2, verbose=0)
            dc.set_seed(0)
            budget.fit(x, y, epochs=2, verbose=0)
            after = [_acc(m, xt, yt) for m in (uniform, budget)]
            chosen = ",".join(str(row["rank"]) for row in budget.budget_report["layers"])
            chosen += f" ({budget.budget_report['chose']})"
            print(
                f"{r:>6} {uniform.count_params():>8,} {before[0]:>9.2%} {before[1]:>9.2%} {chosen:>20} "
                f"{after[0]:>12.2%} {after[1]:>11.2%}"
            )
            rows.append(
                {
                    "suite": "compress",
                    "case": f"budget_{name}_r{r}",
                    "op": "accuracy",
                    "backend": "cpu",
                    "uniform": before[0],
                    "budget": before[1],
                    "uniform_tuned": after[0],
                    "budget_tuned": after[1],
                    "budget_ranks": chosen,
                }
            )
        path = None
        if args.plot:
            os.makedirs(args.plot, exist_ok=True)
            path = os.path.join(args.plot, f"compress_pareto_{name}.png")
        dc.set_seed(0)
        report = dc.compress.pareto(
            model,
            x,
            y,
            validation_data=(xt, yt),
            ranks=(2, 8) if name == "digits" else (1, 4),
            keep=(64,) if name == "digits" else (16,),
            fine_tune_epochs=2,
            repeats=2 if args.quick else 5,
            plot=path,
            title=name.replace("_", " "),
        )
        rows.append(
            {"suite": "compress", "case": f"pareto_{name}", "op": "report", "backend": "cpu", "rows": report}
        )
        if path:
            print(f"# plot: {path}")
