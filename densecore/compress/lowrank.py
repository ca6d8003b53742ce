"""Making a trained model cheaper: low-rank factorisation of its dense layers, from the
weights alone (SVD) or from the weights and the data that reaches them (whitened SVD).

Every function here returns a new model and leaves the original untouched; each checks all
its arguments before it copies anything.

Low rank from the weights. A dense kernel W (in × out) has a singular value decomposition

    W = U Σ Vᵀ = Σ_i σ_i u_i v_iᵀ,      σ_1 ≥ σ_2 ≥ … ≥ 0,

a sum of rank-one matrices ordered by importance. Keeping the first r terms gives W_r, and
by the Eckart–Young theorem no matrix of rank r is closer to W in the Frobenius norm:

    ‖W − W_r‖_F = √(σ_{r+1}² + … + σ_n²),   so   ‖W − W_r‖_F / ‖W‖_F = √(Σ_{i>r} σ_i² / Σ_i σ_i²).

W_r is stored as two thin factors, splitting √Σ between them so neither is badly scaled:

    U_r = U[:, :r] · √Σ_r   (in × r),      V_r = √Σ_r · Vᵀ[:r, :]   (r × out),

and the layer becomes a LowRankDense computing act(x U_r V_r + b). Parameters and FLOPs
fall from in·out to r·(in + out), which pays only when r < in·out / (in + out). The rank
can be given directly, or chosen as the smallest r that keeps a fraction `energy` of
Σ σ_i² (the squared Frobenius norm).

Low rank from the data (`data=`). What a user cares about is not W but the layer's output
on their inputs. Stack the N inputs that reach the layer as the rows of X (N × in); the
factors that serve that data best minimise the output error

    ‖X W − X U V‖_F² / N  =  tr(Dᵀ C₀ D),      D = W − U V,   C₀ = XᵀX / N,

a weight error measured in the metric of the inputs' second moment C₀ instead of the plain
one. The two differ wherever the inputs are correlated or uneven in scale: a direction the
inputs rarely take may be cut, one they take often must be kept. To solve it, add a small
ridge λ and factor the (now positive definite) matrix by Cholesky, in float64:

    C = C₀ + λ I = L Lᵀ      (L lower triangular and invertible).

Since tr(Dᵀ L Lᵀ D) = ‖Lᵀ D‖_F², the objective is

    ‖X D‖_F² / N + λ ‖D‖_F²  =  ‖Lᵀ W − (Lᵀ U) V‖_F²,

and with M = Lᵀ W and A = Lᵀ U (a one-to-one change of variable, L being invertible) it is
the plain problem again, min ‖M − A V‖_F over rank-r products, for the whitened matrix M.
Eckart–Young solves it: with the SVD M = P S Qᵀ (singular values s_1 ≥ s_2 ≥ …) the best is
A V = P_r S_r Q_rᵀ, and mapping A back through L⁻ᵀ gives

    U = L⁻ᵀ P_r S_r^½   (in × r),      V = S_r^½ Q_rᵀ   (r × out),

with, exactly,  ‖X W − X U V‖_F² / N + λ ‖W − U V‖_F²  =  Σ_{i>r} s_i².  No factors of rank r
do better on this data, plain SVD's included. With λ = 0, ‖M‖_F² = ‖X W‖_F² / N is the
energy of the layer's output, so with data `energy=` keeps that fraction of the OUTPUT's
energy, Σ_{i≤r} s_i² / Σ s_i², and the report's relative error is the output's,
‖X W − X U V‖_F / ‖X W‖_F (λ included).

How it relates to PCA of the inputs. Any square root of C gives the same U V (another one
is L O with O orthogonal, which rotates P and nothing else); take the eigenvectors E and
eigenvalues Λ of C, the principal components of the inputs: M = Λ^½ Eᵀ W is W seen in the
principal-component basis, each component's row weighted by how much the inputs vary along
it. PCA alone keeps the r directions where the inputs have the most energy, whatever W does
with them (U = E_r, V = E_rᵀ W); the whitened SVD keeps the r directions where the OUTPUT has
the most energy, so it is never worse than PCA at the same rank, and when W = I (a layer that
passes its input on) it is exactly the PCA projection. When the inputs are white (C = c I)
M = √c W and it is exactly the plain SVD.

What the ridge guards against. C₀ is singular whenever X has rank below its width: a
feature that is always zero (a blank pixel, a dead ReLU unit), features that depend on
each other, or fewer rows than features. Cholesky then fails, and the data says nothing
about W along the directions it never visits: any change there costs nothing on the data,
but would change the output on new inputs that do visit them. The term λ ‖W − U V‖_F² keeps
the factors close to W there, while the data decides everywhere else; as λ grows the
method becomes the plain SVD. λ = ridge · tr(C₀) / in, so `ridge` is relative to the mean
input energy per feature and the result does not depend on the data's scale.

The whitened objective is exact for the layer's linear output, but what reaches the
prediction passes through activations and later layers, and there a moderate ridge (a blend
of the data's metric and the weights') often does better. So `ridge="auto"` (the default)
tries, per layer, the ridges of RIDGE_GRID and the plain SVD (ridge = ∞), and keeps the one
whose compressed model's final outputs on the data are closest to the original model's:
on that data, never further than plain SVD's. A number gives that ridge alone.

Each layer is factorised on the activations that reach it in the compressed model so far,
layer by layer in the order the model calls them, so a later layer's factors also correct
for the errors of the earlier ones.

The above is `fit="whitened"`. The default, `fit="output"` (`output_fit`), goes three steps
further, each measured on the digits model of `python -m benchmarks compress` (64-256-256-10,
both hidden layers factorised, no fine-tuning; test accuracy at rank 4 / 8 / 16):
- Targets from the original: the compressed inputs X̃ are regressed onto the ORIGINAL layer's
  output on the ORIGINAL inputs, X W + b (a reduced-rank regression: the SVD of
  L⁻¹(ÃᵀT/N + λW), L Lᵀ = ÃᵀÃ/N + λI), and the bias is refitted from the means, which corrects
  the mean shift and the error the earlier layers left (when X̃ = X it is the whitened SVD
  of the centred inputs). 66.0 / 86.4 / 95.5% whitened → 79.9 / 93.9 / 96.7%.
- The next layer's metric: an error in this layer's output matters through the next dense
  layer W_next only, so it is weighed by G = W_next W_nextᵀ + 0.1·tr(G)/out·I (the SVD of
  the matrix above times G^½, mapped back by G^-½): → 79.9 / 96.4 / 97.2%.
- relu: a unit that the original and the fitted layer both leave negative is clipped to zero
  either way, so its error is invisible; its target is set to the fit and the fit repeated
  once: → 81.9 / 96.1 / 97.2% (rank 2: 42.1 → 47.4%).

Two more steps (issue #23), with rank 1 / 2 / 4 / 8 / 16 on the same model, 25.4 / 47.4 /
81.9 / 96.1 / 97.2% before them:
- Refit of the layer that reads a factorised one (`refit_next=True`, the default with
  fit="output"). A factorised layer leaves an error in its output that its own factors cannot
  remove (they are limited to rank r), but the dense layer after it, W_next (n × m) with bias
  b_next, is not: given the features X̃ (N × n) that now reach it, the kernel and bias whose
  output is closest to the ORIGINAL layer's pre-activation output T = X W_next + b_next on the
  original features X solve a linear least-squares problem, a closed-form distillation (no
  labels, no gradient steps; "reconstruct the next layer", as in ThiNet and the data-driven
  compression literature). With Ã = X̃ − mean(X̃) and T̃ = T − mean(T), the ridge problem

      min  ‖Ã W' − T̃‖_F² / N + λ ‖W' − W_next‖_F²

  (λ = ridge · tr(ÃᵀÃ/N) / n, shrinking toward the original kernel along directions the data
  does not visit, as above; ridge="auto" takes the ridge of REFIT_RIDGES with the least
  leave-one-out error, in closed form, see `loo_ridge`) is convex; setting its gradient to zero
  gives the normal equations

      (ÃᵀÃ/N + λ I) W' = ÃᵀT̃/N + λ W_next,      b' = mean(T) − mean(X̃) W',

  whose matrix is positive definite for λ > 0, so W' is the unique minimiser, and with b' it
  minimises ‖X̃ W' + b' − T‖_F² / N + λ ‖W' − W_next‖_F² (the mean of the residual is zero at the
  optimum). It costs O(N n² + n³ + N n m): one second moment and one Cholesky solve. It is the
  layer's exact least-squares optimum for its pre-activation output; an activation after it
  (softmax, sigmoid, relu) is left as it is. Only a Dense that is not itself factorised and
  reads a factorised layer's output directly (the next Dense of a Sequential model, Dropout
  skipped) is refitted, right after that layer, so a later factorised layer sees it; its
  parameter count is unchanged. Every refitted layer is listed in the model's `refit_report`.
  Digits (one relu pass, ridge 1e-3): → 44.0 / 59.1 / 88.3 / 96.7 / 97.2%.
- The relu passes to convergence, chosen on the data. Each relu pass is a step of a block
  descent: targets given the fit, fit given the targets. One pass leaves it far from its
  fixed point at small rank; more passes move the fit, not always downhill on the final
  outputs. So every pass count in RELU_PASSES is tried for the whole model (the same count for
  every layer), and the model whose final outputs on the data are closest to the original's
  (sum of squared differences, as ridge="auto" does) is kept; each report row says which
  (`relu_passes`). Cost: len(RELU_PASSES) fits of the model, each up to max(RELU_PASSES) + 1
  SVDs per layer. Digits, with the refit's ridge by leave-one-out: → 43.2 / 68.8 / 90.0 / 96.7 /
  97.2% (plain SVD: 14.8 / 26.7 / 43.2 / 92.2 / 95.8%).
"""

import warnings

import numpy as np

from ..nn.layers import Dense, LowRankDense, activation_name, tap
from .surgery import _counterpart, _require_built, _walk, clone, find_layers, rebuilt, replace_layers

_BATCH = 256  # rows per predict call while the activations are gathered
RIDGE_GRID = (1e-3, 1e-2, 0.1, 1.0, 10.0, np.inf)  # what ridge="auto" tries, per layer, with fit="whitened"
OUTPUT_RIDGE = 1e-3  # ridge="auto" with fit="output"
REFIT_RIDGES = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)  # ridge="auto" for refit_dense: least leave-one-out error
METRIC_FLOOR = 0.1  # the next layer's metric G + μ·tr(G)/out·I: no output direction is free
RELU_PASSES = (0, 1, 2, 4, 8, 16)  # the relu passes tried per model (fit="output"), best kept


# ---- checks ------------------------------------------------------------------------------
def check_data(model, data, where, name="data"):
    """`data` as a float32 array of the model's input shape, refused when it is not.

    Raises:
        TypeError: `data` is not a numeric array (or something numpy makes one of).
        ValueError: its shape is not (samples, *model.input_shape[1:]), it has no rows, or
            it holds NaN or inf.
    """
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: {name} must be a numeric array of inputs; received {type(data).__name__} "
            f"of dtype {array.dtype}."
        )
    features = tuple(model.input_shape[1:])
    if array.ndim != len(features) + 1 or array.shape[1:] != features or len(array) == 0:
        raise ValueError(
            f"{where}: {name} must have shape (samples, {', '.join(map(str, features))}), with at "
            f"least one sample, like the model's inputs; received shape {array.shape}."
        )
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(f"{where}: {name} must be finite; received {bad} NaN or inf values.")
    return array


def _check_ridge(ridge, where):
    if ridge == "auto" and isinstance(ridge, str):
        return
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not 0 <= ridge < np.inf:
        raise ValueError(f"{where}: ridge must be 'auto' or a finite number ≥ 0. Received: ridge={ridge!r}")


def _check_rank(rank, where, label="rank"):
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"{where}: {label} must be a positive integer. Received: {label}={rank!r}")


# ---- the data: second moments of the inputs of chosen layers ------------------------------
def call_order(model, layers, data):
    """`layers` in the order a forward pass of `model` on a row of `data` calls them."""
    order = []
    with tap(layers, lambda layer, inputs, outputs: order.append(layer) if layer not in order else None):
        model.predict(data[:1], batch_size=1)
    return order + [layer for layer in layers if layer not in order]


def second_moments(model, layers, data):
    """{layer: (C₀ = XᵀX / N in float64, N)} for the inputs X that reach each of `layers` when
    `model` predicts `data` (gathered in batches; X itself is never stored)."""
    sums = {layer: np.zeros((layer.kernel.shape[0],) * 2) for layer in layers}
    rows = dict.fromkeys(layers, 0)

    def record(layer, inputs, outputs):
        x = np.asarray(inputs.data, np.float64).reshape(-1, sums[layer].shape[0])
        sums[layer] += x.T @ x
        rows[layer] += len(x)

    with tap(layers, record):
        for start in range(0, len(data), _BATCH):
            model.predict(data[start : start + _BATCH], batch_size=_BATCH)
    return {layer: (sums[layer] / max(rows[layer], 1), rows[layer]) for layer in layers}


def _ridged_cholesky(moment, ridge, where, name):
    """(L, λ) with L Lᵀ = moment + λ I, λ = ridge × the mean diagonal of moment (so that ridge
    is relative to the inputs' scale); ValueError naming the layer when that is singular."""
    n_in = moment.shape[0]
    scale = float(np.trace(moment)) / n_in
    lam = ridge * (scale if scale > 0 else 1.0)
    try:
        return np.linalg.cholesky(moment + lam * np.eye(n_in)), lam
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{where}: the inputs reaching {name} have a singular second moment (a feature "
            f"that is always zero, dependent features, or fewer samples than its {n_in} inputs); "
            f"give ridge > 0. Received: ridge={ridge!r}"
        ) from None


def whitened_svd(w, moment, ridge, where="compress.low_rank", name="layer"):
    """The SVD of Lᵀ W, where L Lᵀ = moment + λI and λ = ridge · tr(moment) / in.

    Args:
        w: the kernel W (in × out), float64.
        moment: the inputs' second moment C₀ = XᵀX / N (in × in), float64.
        ridge: λ relative to the mean input energy per feature (≥ 0).

    Returns:
        (L, P, s, Qᵀ) with Lᵀ W = P diag(s) Qᵀ; the rank-r factors are
        U = L⁻ᵀ P[:, :r] √s[:r] and V = √s[:r] Qᵀ[:r] (see `whitened_factors`).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_normal((100, 3))
        >>> w = np.eye(3)
        >>> L, p, s, qt = whitened_svd(w, x.T @ x / 100, ridge=0.0)
        >>> bool(np.allclose(s**2, np.linalg.eigvalsh(x.T @ x / 100)[::-1]))  # W = I: PCA
        True
    """
    if not np.all(np.isfinite(moment)):
        raise ValueError(f"{where}: the inputs reaching {name} are not finite (NaN or inf).")
    chol, _ = _ridged_cholesky(moment, ridge, where, name)
    p, s, qt = np.linalg.svd(chol.T @ w, full_matrices=False)
    return chol, p, s, qt


def whitened_factors(chol, p, s, qt, r):
    """U = L⁻ᵀ P_r S_r^½ and V = S_r^½ Q_rᵀ (float64), from `whitened_svd`'s result."""
    root = np.sqrt(s[:r])
    return np.linalg.solve(chol.T, p[:, :r] * root), root[:, None] * qt[:r]


# ---- low rank ----------------------------------------------------------------------------
def _rank_for(sigma, rank, energy):
    if rank is not None:
        return rank
    share = np.cumsum(sigma**2) / max(float(np.sum(sigma**2)), 1e-300)
    return int(np.searchsorted(share, energy - 1e-12) + 1)


def _targets(model, rank, layers, where):
    """[(layer, its rank or None)], and whether the layers were named."""
    if isinstance(rank, dict):
        if layers is not None:
            raise ValueError(
                f"{where}: a rank dict names its layers; give no layers=. Received: layers={layers!r}"
            )
        for name, r in rank.items():
            _check_rank(r, where, f"rank[{name!r}]")
        found = find_layers(model, list(rank), where)
        return list(zip(found, [int(r) for r in rank.values()])), True
    if rank is not None:
        _check_rank(rank, where)
    named = layers is not None
    found = (
        find_layers(model, layers, where)
        if named
        else [layer for _, layer in _walk(model) if type(layer) is Dense]
    )
    return [(layer, rank) for layer in found], named


def _plan_rank(layer, r, named, where):
    """The rank to use (clipped to min(in, out) when not named), or None to keep it dense."""
    n_in, n_out = layer.kernel.shape
    if r > min(n_in, n_out):
        if named:
            raise ValueError(
                f"{where}: rank {r} exceeds min(in, out) = {min(n_in, n_out)} "
                f"for layer '{layer.name}' ({n_in} × {n_out})."
            )
        r = min(n_in, n_out)
    if r * (n_in + n_out) >= n_in * n_out and not named:
        warnings.warn(
            f"{where}: layer '{layer.name}' ({n_in} × {n_out}) kept dense: rank {r} "
            f"would not save parameters (needs r < {n_in * n_out / (n_in + n_out):.1f}).",
            stacklevel=4,
        )
        return None
    return r


def _report_row(layer, r, sigma, error_of):
    n_in, n_out = layer.kernel.shape
    bias = n_out if layer.use_bias else 0
    return {
        "layer": layer.name,
        "shape": (n_in, n_out),
        "rank": r,
        "params_before": n_in * n_out + bias,
        "params_after": r * (n_in + n_out) + bias,
        "flops_before": layer.flops_per_sample(),
        "flops_after": 2 * r * (n_in + n_out) + n_out,
        "relative_error": float(np.sqrt(np.sum(sigma[r:] ** 2) / max(np.sum(sigma**2), 1e-300))),
        "error_of": error_of,
    }


def low_rank(
    model,
    rank=None,
    energy=None,
    layers=None,
    data=None,
    ridge="auto",
    fit="output",
    refit_next=True,
    verbose=1,
):
    """A copy of `model` whose dense layers are factorised: by truncated SVD of each kernel,
    or, given `data`, by the factors that keep each layer's OUTPUT on that data closest.

    Without `data`, each kernel W becomes the rank-r product closest to W (plain SVD).
    With `data`, each layer's factors minimise ‖X W − X U V‖_F over the inputs X that
    reach it in the model compressed so far (the whitened SVD of this module's docstring),
    layer by layer in call order.

    Args:
        model: a built model (trained, usually).
        rank: the rank r for every chosen layer, or a dict {layer name: rank} (which then
            names the layers to factorise); or
        energy: in (0, 1]: per layer, the smallest r keeping this fraction of Σσ² (without
            data: of W's squared Frobenius norm; with data: of the output's energy ‖XW‖²).
        layers: names (layer or attribute names) of the Dense layers to factorise. None: every
            Dense whose factorisation saves parameters (r < in·out/(in + out)); the others are
            kept dense, with a warning.
        data: inputs (samples, *input shape) representative of what the model will see, e.g.
            the training inputs; None: factorise the weights alone.
        ridge: with data, "auto" (default: per layer, the best of RIDGE_GRID and plain SVD by
            the model's final outputs on data), or the regulariser λ relative to the mean
            input energy per feature (λ = ridge · tr(XᵀX/N) / in; ≥ 0). It keeps the problem
            solvable when the inputs are rank-deficient; with fewer samples than a layer's
            inputs it is required (> 0), and a warning says the ridge decides what the data
            cannot.
        fit: with data, "output" (default): each layer's factors and bias are fitted so that its
            output on the inputs of the compressed model matches the ORIGINAL layer's output
            on the original inputs, in the metric of the next dense layer, relu-aware
            (`output_fit`; ridge "auto" = OUTPUT_RIDGE); "whitened": the pure whitened SVD of
            the docstring, the bias kept (exact: output error = Σ_{i>r} s_i²).
            With "output", the relu passes are chosen per model from RELU_PASSES by the final
            outputs on data (the module docstring).
        refit_next: with data and fit="output" (ignored otherwise), True (default): a Dense
            layer that is NOT factorised but reads a factorised layer's output directly (in a
            Sequential model; e.g. the head after the last hidden layer) gets its kernel and
            bias refitted by ridge least squares, so that its pre-activation output on the
            compressed features matches the original's (`refit_dense`; with ridge="auto" its
            ridge is the one of REFIT_RIDGES with the least leave-one-out error, `loo_ridge`;
            a number is used as it is). This changes a layer
            you did not name; its shape and parameter count stay, and `refit_report` lists it.
            False: only the factorised layers change.
        verbose: 1 prints the report table.

    Returns:
        The new model (compiled like the original, with a fresh optimizer, if it was). Its
        `compression_report` lists per layer: rank, parameters and FLOPs per sample before
        and after, and the relative error: ‖W − UV‖_F / ‖W‖_F without data, the output's
        ‖XW − XUV‖_F / ‖XW‖_F with it (its `error_of` says which). Its `refit_report` lists
        the layers refitted by `refit_next` (empty when none): the layer, the factorised layer
        it reads, the ridge used, and the relative error of its pre-activation output on the
        data, ‖X̃W + b − T‖_F / ‖T‖_F, before and after the refit.

    Raises:
        ValueError: bad rank, energy, ridge or layers; data of the wrong shape, empty, or
            holding NaN/inf; fewer samples than a layer's inputs with ridge=0. All before any
            work, with the model untouched.
        TypeError: data that is not numeric.

    Example:
        >>> import numpy as np, densecore as dc
        >>> model = dc.Sequential([dc.layers.Dense(64, input_shape=(64,)), dc.layers.Dense(10)])
        >>> small = dc.compress.low_rank(model, rank=9, verbose=0)  # 9·(64+10) > 64·10: kept
        >>> [type(layer).__name__ for layer in small.layers]
        ['LowRankDense', 'Dense']
        >>> rng = np.random.default_rng(0)  # inputs of very uneven scale: where data matters
        >>> x = (rng.standard_normal((200, 64)) * np.linspace(0.01, 3, 64)).astype("float32")
        >>> first = [model.layers[0].name]
        >>> aware = dc.compress.low_rank(
        ...     model, rank=8, layers=first, data=x, ridge=0.0, fit="whitened", verbose=0)
        >>> plain = dc.compress.low_rank(model, rank=8, layers=first, verbose=0)
        >>> def output_error(m):  # ‖X W − X U V‖_F of the first layer
        ...     return np.linalg.norm(m.layers[0](x).data - model.layers[0](x).data)
        >>> bool(output_error(aware) < output_error(plain))
        True
    """
    where = "compress.low_rank"
    _require_built(model, where)
    if (rank is None) == (energy is None):
        raise ValueError(
            f"{where}: give exactly one of rank and energy; received rank={rank!r}, energy={energy!r}."
        )
    if energy is not None and (
        isinstance(energy, bool) or not isinstance(energy, (int, float)) or not 0 < energy <= 1
    ):
        raise ValueError(f"{where}: energy must be in (0, 1]. Received: energy={energy!r}")
    _check_ridge(ridge, where)
    if fit not in ("output", "whitened"):
        raise ValueError(f"{where}: fit must be 'output' or 'whitened'. Received: fit={fit!r}")
    if not isinstance(refit_next, bool):
        raise ValueError(f"{where}: refit_next must be True or False. Received: refit_next={refit_next!r}")
    if data is not None:
        data = check_data(model, data, where)
    targets, named = _targets(model, rank, layers, where)
    for layer, r in targets:  # a named layer's rank is checked before any work
        if r is not None and named and r > min(layer.kernel.shape):
            _plan_rank(layer, r, named, where)
    if data is not None:
        few = [layer for layer, _ in targets if len(data) < layer.kernel.shape[0]]
        if few:
            widths = ", ".join(f"'{layer.name}' ({layer.kernel.shape[0]})" for layer in few)
            if ridge == 0:
                raise ValueError(
                    f"{where}: data has {len(data)} samples, fewer than the inputs of {widths}: "
                    f"their second moment is singular; give ridge > 0 or more samples. "
                    f"Received: data of shape {data.shape}, ridge=0"
                )
            warnings.warn(
                f"{where}: data has {len(data)} samples, fewer than the inputs of {widths}: the "
                f"data cannot tell every direction apart, and the ridge (ridge={ridge}) keeps "
                f"the factors close to W along the ones it misses.",
                stacklevel=2,
            )
        new, report, refits = _low_rank_on_data(
            model, targets, energy, named, data, ridge, fit, refit_next, where
        )
    else:
        (new, report), refits = _low_rank_on_weights(model, targets, energy, named, where), []
    new.compression_report = report
    new.refit_report = refits
    if verbose:
        print(format_report(report, refits))
    return new


def _low_rank_on_weights(model, targets, energy, named, where):
    plan, report = {}, []
    for layer, rank in targets:
        u, sigma, vt = np.linalg.svd(layer.kernel.data.astype(np.float64), full_matrices=False)
        r = _plan_rank(layer, _rank_for(sigma, rank, energy), named, where)
        if r is None:
            continue
        root = np.sqrt(sigma[:r])
        plan[layer] = (r, u[:, :r] * root, root[:, None] * vt[:r])
        report.append(_report_row(layer, r, sigma, "weights"))
    new = clone(model)
    twin = _counterpart(model, new)
    replace_layers(new, {twin[layer]: _factored(layer, *step) for layer, step in plan.items()})
    return new, report


def _low_rank_on_data(model, targets, energy, named, data, ridge, fit, refit_next, where):
    if fit == "whitened":
        return (*_whitened_on_data(model, targets, energy, named, data, ridge, where), [])
    relu = any(_is_relu(layer) for layer, _ in targets)
    grid = RELU_PASSES if relu else (0,)
    wanted = model.predict(data, batch_size=_BATCH) if len(grid) > 1 else None
    original = {}  # layer → its inputs in the original model, gathered once
    best = None
    for passes in grid:
        new, report, refits = _output_fit_model(
            model, targets, energy, named, data, ridge, passes, refit_next, original, where
        )
        if wanted is None or not report:
            return new, report, refits
        score = float(np.sum((new.predict(data, batch_size=_BATCH) - wanted) ** 2))
        if best is None or score < best[0]:
            best = (score, new, report, refits)
    return best[1:]


def _is_relu(layer):
    return layer.activation is not None and activation_name(layer.activation) == "relu"


def _output_fit_model(model, targets, energy, named, data, ridge, passes, refit_next, original, where):
    """One model fitted by `output_fit` layer by layer (with `passes` relu passes), each Dense
    that reads a factorised layer and is not factorised refitted right after it."""
    lam = OUTPUT_RIDGE if ridge == "auto" else ridge
    new = clone(model)
    twin = _counterpart(model, new)
    rank_of = {twin[layer]: (layer, rank) for layer, rank in targets}
    factorised = {layer for layer, _ in targets}
    following = _next_dense(model)

    def inputs_of(layer):
        if layer not in original:
            original[layer] = layer_inputs(model, layer, data)
        return original[layer]

    report, refits = [], []
    for copy in call_order(new, list(rank_of), data):  # each sees the layers before it compressed
        layer, rank = rank_of[copy]
        xc = layer_inputs(new, copy, data)
        result = output_fit(
            layer.kernel.data,
            layer.bias.data if layer.use_bias else None,
            xc,
            inputs_of(layer),
            lam,
            metric=_metric(following.get(layer)),
            relu_passes=passes if _is_relu(layer) else 0,
            rank=lambda s, layer=layer, rank=rank: _plan_rank(
                layer, _rank_for(s, rank, energy), named, where
            ),
            where=where,
            name=f"layer '{layer.name}'",
        )
        if result is None:
            continue
        r, u, v, bias, s = result
        weights = [u.astype(np.float32), v.astype(np.float32)] + (
            [bias.astype(np.float32)] if layer.use_bias else []
        )
        replace_layers(new, {copy: rebuilt(LowRankDense, layer, weights, rank=r)})
        row = _report_row(layer, r, s, "output")
        report.append(
            {**row, "ridge": float(lam), "fit": "output", "relu_passes": passes if _is_relu(layer) else 0}
        )
        nxt = following.get(layer)
        if refit_next and nxt is not None and type(nxt) is Dense and nxt not in factorised:
            xn, xo = layer_inputs(new, twin[nxt], data), inputs_of(nxt)
            b = nxt.bias.data if nxt.use_bias else None
            refit_ridge = loo_ridge(nxt.kernel.data, b, xn, xo) if ridge == "auto" else ridge
            w_new, b_new = refit_dense(nxt.kernel.data, b, xn, xo, refit_ridge, where, f"layer '{nxt.name}'")
            twin[nxt].set_weights(
                [w_new.astype(np.float32)] + ([b_new.astype(np.float32)] if nxt.use_bias else [])
            )
            refits.append({**_refit_row(nxt, layer, xn, xo, w_new, b_new), "ridge": float(refit_ridge)})
    order = {layer.name: i for i, (_, layer) in enumerate(_walk(model))}
    return new, sorted(report, key=lambda row: order[row["layer"]]), refits


def refit_dense(w, b, xc, xo, ridge, where="compress.low_rank", name="layer"):
    """The kernel and bias of a dense layer refitted by ridge least squares, so that its
    pre-activation output on the features `xc` of the compressed model is closest to the
    original layer's output on the original features `xo` (the module docstring, `refit_next`).

    With T = xo W + b, Ã = xc − mean(xc), T̃ = T − mean(T) (nothing centred when b is None),
    C = ÃᵀÃ/N and λ = ridge · tr(C) / n, it solves the normal equations

        (C + λ I) W' = ÃᵀT̃/N + λ W,      b' = mean(T) − mean(xc) W',

    the unique minimiser of ‖xc W' + b' − T‖_F² / N + λ ‖W' − W‖_F² (for λ > 0, or C invertible).

    Args:
        w, b: the layer's kernel (n × m) and bias (None: no bias).
        xc, xo: (N × n) features of the compressed and of the original model.
        ridge: λ relative to the mean feature energy (≥ 0).

    Returns:
        (W', b') in float64 (b' None when b is None).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> xo = rng.standard_normal((50, 4)); w, b = rng.standard_normal((4, 2)), np.ones(2)
        >>> xc = 2 * xo + 1  # features scaled and shifted: the refit undoes it exactly
        >>> w2, b2 = refit_dense(w, b, xc, xo, 0.0)
        >>> bool(np.allclose(xc @ w2 + b2, xo @ w + b))
        True
    """
    w = np.asarray(w, np.float64)
    xc, xo = np.asarray(xc, np.float64), np.asarray(xo, np.float64)
    t = xo @ w + (0.0 if b is None else np.asarray(b, np.float64))
    if not (np.all(np.isfinite(xc)) and np.all(np.isfinite(t))):
        raise ValueError(f"{where}: the inputs reaching {name} are not finite (NaN or inf).")
    mean_x = xc.mean(0) if b is not None else np.zeros(w.shape[0])
    mean_t = t.mean(0) if b is not None else np.zeros(w.shape[1])
    a = xc - mean_x
    chol, lam = _ridged_cholesky(a.T @ a / len(a), ridge, where, name)
    rhs = a.T @ (t - mean_t) / len(a) + lam * w
    w_new = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))
    return w_new, (mean_t - mean_x @ w_new if b is not None else None)


def loo_ridge(w, b, xc, xo, ridges=None):
    """The ridge of `refit_dense` with the least leave-one-out error on the data (from
    REFIT_RIDGES by default), computed in closed form, without refitting N times.

    Why. The features of a compressed model often span fewer directions than their width (a
    rank-r layer followed by relu), so the least-squares kernel can grow large along directions
    the data barely visits: it fits the data's outputs and little else, and later fine-tuning
    starts from a badly scaled layer. The ridge trades that off, and leave-one-out
    cross-validation chooses it from the data alone: for each sample, the error of the layer
    refitted WITHOUT it, in predicting the original output on it.

    How. Write W' = W + Δ: the refit is ordinary ridge regression of the residual targets
    R = T̃ − Ã W on Ã (penalty Nλ‖Δ‖², intercept unpenalised), a linear smoother whose hat matrix
    is H = 11ᵀ/N + Ã (ÃᵀÃ + NλI)⁻¹ Ãᵀ (1 ⟂ the centred Ã). For such a smoother the prediction of
    sample i by the fit without it has the error e_i / (1 − H_ii), e_i the full fit's residual
    (the Sherman–Morrison identity), with λ held at its full-data value. With the eigenvectors
    ÃᵀÃ = V diag(d) Vᵀ, H_ii = 1/N + Σ_k (ÃV)_ik² / (d_k + Nλ), so every ridge of the grid costs
    O(N n m) after one O(N n² + n³) eigendecomposition. The score is Σ_i ‖e_i‖² / (1 − H_ii)² / N.

    Args:
        w, b, xc, xo: as `refit_dense`.
        ridges: the ridges tried (relative, as `refit_dense`); None: REFIT_RIDGES.

    Returns:
        The ridge with the least leave-one-out error (the first of equals).
    """
    ridges = REFIT_RIDGES if ridges is None else ridges
    return ridges[int(np.argmin(loo_errors(w, b, xc, xo, ridges)))]


def loo_errors(w, b, xc, xo, ridges):
    """The leave-one-out errors Σ_i ‖e_i‖² / (1 − H_ii)² / N of `refit_dense` for each ridge (see
    `loo_ridge`)."""
    w = np.asarray(w, np.float64)
    xc, xo = np.asarray(xc, np.float64), np.asarray(xo, np.float64)
    n = len(xc)
    t = xo @ w + (0.0 if b is None else np.asarray(b, np.float64))
    a = xc - xc.mean(0) if b is not None else xc
    resid = (t - t.mean(0) if b is not None else t) - a @ w
    d, vecs = np.linalg.eigh(a.T @ a)
    d = np.maximum(d, 0.0)
    av = a @ vecs
    proj = av.T @ resid
    scale = float(np.trace(a.T @ a)) / (n * a.shape[1])
    errors = []
    for ridge in ridges:
        lam = n * ridge * (scale if scale > 0 else 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = (d + lam) > 0
            inv = np.where(keep, 1.0 / np.where(keep, d + lam, 1.0), 0.0)
        e = resid - av @ (proj * inv[:, None])
        h = np.sum(av**2 * inv, axis=1) + (1.0 / n if b is not None else 0.0)
        errors.append(float(np.mean(np.sum(e**2, axis=1) / np.maximum(1.0 - h, 1e-12) ** 2)))
    return errors


def _refit_row(layer, reads, xc, xo, w_new, b_new):
    w = layer.kernel.data.astype(np.float64)
    b = layer.bias.data.astype(np.float64) if layer.use_bias else 0.0
    xc, xo = xc.astype(np.float64), xo.astype(np.float64)
    t = xo @ w + b
    norm = max(float(np.linalg.norm(t)), 1e-300)
    after = xc @ w_new + (0.0 if b_new is None else b_new)
    return {
        "layer": layer.name,
        "reads": reads.name,
        "shape": tuple(layer.kernel.shape),
        "error_before": float(np.linalg.norm(xc @ w + b - t)) / norm,
        "error_after": float(np.linalg.norm(after - t)) / norm,
    }


def layer_inputs(model, layer, data):
    """The inputs X (N × in, float32) that reach `layer` when `model` predicts `data`."""
    parts = []
    n_in = layer.kernel.shape[0]
    with tap(
        [layer],
        lambda lay, inputs, outputs: parts.append(np.asarray(inputs.data, np.float32).reshape(-1, n_in)),
    ):
        for start in range(0, len(data), _BATCH):
            model.predict(data[start : start + _BATCH], batch_size=_BATCH)
    return np.concatenate(parts) if parts else np.zeros((0, n_in), np.float32)


def _next_dense(model):
    """{layer: the Dense (or LowRankDense) that reads its output next}, for a Sequential model
    (Dropout, identity at inference, skipped); empty for other models."""
    from ..nn.models import Sequential

    if not isinstance(model, Sequential):
        return {}
    layers = [layer for layer in model.layers if type(layer).__name__ != "Dropout"]
    return {
        a: b
        for a, b in zip(layers, layers[1:])
        if isinstance(a, Dense) and isinstance(b, Dense) and b.kernel.shape[0] == a.kernel.shape[1]
    }


def _metric(following):
    """G = W_next W_nextᵀ + μ·tr/out·I: how the next dense layer weighs an error in this layer's
    output (None: no next dense layer, every output direction weighs the same)."""
    if following is None:
        return None
    if isinstance(following, LowRankDense):
        w = following.u.data.astype(np.float64) @ following.v.data.astype(np.float64)
    else:
        w = following.kernel.data.astype(np.float64)
    g = w @ w.T
    scale = float(np.trace(g)) / len(g)
    return g + METRIC_FLOOR * (scale if scale > 0 else 1.0) * np.eye(len(g))


def output_fit(
    w, b, xc, xo, ridge, metric=None, relu_passes=0, rank=None, where="compress.low_rank", name="layer"
):
    """The rank-r kernel (and bias) whose output on the compressed inputs `xc` is closest to the
    original layer's output on the original inputs `xo`: a reduced-rank regression.

    With A = xc − mean(xc) and T = xo W + b − mean (centred: the bias is refitted, which corrects
    the mean shift the earlier layers cause), C = AᵀA/N + λI = L Lᵀ, and the next layer's metric
    G = H² (identity when None), it minimises

        ‖(A W̃ − T) H‖_F² / N + λ ‖(W̃ − W) H‖_F²   over rank-r W̃:

    the SVD L⁻¹(AᵀT/N + λW) H = P S Qᵀ gives U = L⁻ᵀ P_r S_r^½, V = S_r^½ Q_rᵀ H⁻¹ and the
    minimum Σ_{i>r} s_i² (plus a constant). When xc = xo and G = I it is the whitened SVD of the
    centred inputs. With `relu_passes`, targets of units the original and the fitted layer both
    leave negative (clipped by relu: their error is invisible) are set to the fitted value and
    the fit is repeated.

    Args:
        w, b: the layer's kernel (in × out) and bias (None: no bias, nothing centred).
        xc, xo: (N × in) inputs of the compressed and of the original model.
        ridge: λ relative to the mean input energy per feature.
        rank: a function of the spectrum s giving r (None: keep the layer: returns None).

    Returns:
        (r, U, V, bias, s) in float64, or None.
    """
    w = np.asarray(w, np.float64)
    xc, xo = np.asarray(xc, np.float64), np.asarray(xo, np.float64)
    n_in = w.shape[0]
    y = xo @ w + (0.0 if b is None else np.asarray(b, np.float64))
    if not (np.all(np.isfinite(xc)) and np.all(np.isfinite(y))):
        raise ValueError(f"{where}: the inputs reaching {name} are not finite (NaN or inf).")
    mean_x = xc.mean(0) if b is not None else np.zeros(n_in)
    a = xc - mean_x
    moment = a.T @ a / len(a)
    chol, lam = _ridged_cholesky(moment, ridge, where, name)
    if metric is None:
        root = root_inv = None
    else:
        ev, vecs = np.linalg.eigh(metric)
        ev = np.maximum(ev, ev.max() * 1e-12)
        root, root_inv = (vecs * np.sqrt(ev)) @ vecs.T, (vecs / np.sqrt(ev)) @ vecs.T
    target = y
    r = None
    for step in range(relu_passes + 1):
        mean_t = target.mean(0) if b is not None else np.zeros(w.shape[1])
        m = np.linalg.solve(chol, a.T @ (target - mean_t) / len(a) + lam * w)
        if root is not None:
            m = m @ root
        p, s, qt = np.linalg.svd(m, full_matrices=False)
        if r is None:
            r = rank(s) if rank is not None else len(s)
            if r is None:
                return None
        half = np.sqrt(s[:r])
        u = np.linalg.solve(chol.T, p[:, :r] * half)
        v = half[:, None] * qt[:r]
        if root_inv is not None:
            v = v @ root_inv
        bias = mean_t - mean_x @ u @ v if b is not None else None
        if step < relu_passes:
            fitted = xc @ u @ v + (0.0 if bias is None else bias)
            target = np.where((y < 0) & (fitted < 0), fitted, y)
    return r, u, v, bias, s


def _whitened_on_data(model, targets, energy, named, data, ridge, where):
    new = clone(model)
    twin = _counterpart(model, new)
    rank_of = {twin[layer]: (layer, rank) for layer, rank in targets}
    ridges = RIDGE_GRID if ridge == "auto" else (ridge,)
    wanted = model.predict(data, batch_size=_BATCH) if ridge == "auto" else None
    report = []
    for copy in call_order(new, list(rank_of), data):  # each sees the layers before it compressed
        layer, rank = rank_of[copy]
        moment, _ = second_moments(new, [copy], data)[copy]
        w = layer.kernel.data.astype(np.float64)
        best, current = None, copy
        for lam in ridges:
            if lam == np.inf:  # the plain SVD: the limit of a ridge that outweighs the data
                u, s, vt = np.linalg.svd(w, full_matrices=False)
                r = _plan_rank(layer, _rank_for(s, rank, energy), named, where)
                factors = None if r is None else (u[:, :r] * np.sqrt(s[:r]), np.sqrt(s[:r])[:, None] * vt[:r])
            else:
                chol, p, s, qt = whitened_svd(w, moment, lam, where, f"layer '{layer.name}'")
                r = _plan_rank(layer, _rank_for(s, rank, energy), named, where)
                factors = None if r is None else whitened_factors(chol, p, s, qt, r)
            if r is None:
                break
            candidate = _factored(layer, r, *factors)
            replace_layers(new, {current: candidate})
            current = candidate
            score = (
                0.0 if wanted is None else float(np.sum((new.predict(data, batch_size=_BATCH) - wanted) ** 2))
            )
            if best is None or score < best[0]:
                row = _report_row(layer, r, s, "weights" if lam == np.inf else "output")
                best = (score, candidate, {**row, "ridge": float(lam)})
        if best is None:
            continue
        replace_layers(new, {current: best[1]})
        report.append(best[2])
    order = {layer.name: i for i, (_, layer) in enumerate(_walk(model))}
    return new, sorted(report, key=lambda row: order[row["layer"]])


def _factored(layer, r, u, v):
    bias = [layer.bias.data] if layer.use_bias else []
    return rebuilt(LowRankDense, layer, [u.astype(np.float32), v.astype(np.float32)] + bias, rank=r)


def format_report(report, refits=()) -> str:
    """The low-rank report as a table; then one line per refitted layer (`refit_report`)."""
    output = any(row.get("error_of") == "output" for row in report)
    label = "out. error" if output else "rel. error"
    lines = [f"{'layer':<14}{'in × out':>12}{'rank':>6}{'params':>18}{'FLOPs/sample':>20}{label:>12}"]
    for row in report:
        lines.append(
            f"{row['layer']:<14}{'%d × %d' % row['shape']:>12}{row['rank']:>6}"
            f"{row['params_before']:>9,} → {row['params_after']:<6,}"
            f"{row['flops_before']:>10,} → {row['flops_after']:<7,}{row['relative_error']:>12.4f}"
        )
    for row in refits:
        lines.append(
            f"{row['layer']:<14}{'%d × %d' % row['shape']:>12}  refitted (reads '{row['reads']}'): "
            f"output error {row['error_before']:.4f} → {row['error_after']:.4f}"
        )
    return "\n".join(lines)
