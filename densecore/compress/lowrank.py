"""Making a trained model cheaper: low-rank factorisation (SVD) of its dense layers.

Every function here returns a new model and leaves the original untouched; each checks all
its arguments before it copies anything.

Low rank. A dense kernel W (in × out) has a singular value decomposition

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
"""

import warnings

import numpy as np

from ..nn.layers import Dense, LowRankDense
from .surgery import _counterpart, _require_built, _walk, clone, find_layers, rebuilt, replace_layers


# ---- low rank ----------------------------------------------------------------------------
def _rank_for(sigma, rank, energy):
    if rank is not None:
        return rank
    share = np.cumsum(sigma**2) / max(float(np.sum(sigma**2)), 1e-300)
    return int(np.searchsorted(share, energy - 1e-12) + 1)


def low_rank(model, rank=None, energy=None, layers=None, verbose=1):
    """A copy of `model` whose dense layers are factorised by truncated SVD.

    Args:
        model: a built model (trained, usually).
        rank: the rank r for every chosen layer; or
        energy: in (0, 1]: per layer, the smallest r keeping this fraction of Σσ².
        layers: names (layer or attribute names) of the Dense layers to factorise. None: every
            Dense whose factorisation saves parameters (r < in·out/(in + out)); the others are
            kept dense, with a warning.
        verbose: 1 prints the report table.

    Returns:
        The new model (compiled like the original, with a fresh optimizer, if it was). Its
        `compression_report` lists per layer: rank, parameters and FLOPs per sample before
        and after, and the relative error ‖W − UV‖_F / ‖W‖_F.

    Example:
        >>> import densecore as dc
        >>> model = dc.Sequential([dc.layers.Dense(64, input_shape=(64,)), dc.layers.Dense(10)])
        >>> small = dc.compress.low_rank(model, rank=9, verbose=0)  # 9·(64+10) > 64·10: kept
        >>> [type(layer).__name__ for layer in small.layers]
        ['LowRankDense', 'Dense']
    """
    where = "compress.low_rank"
    _require_built(model, where)
    if (rank is None) == (energy is None):
        raise ValueError(
            f"{where}: give exactly one of rank and energy; received rank={rank!r}, energy={energy!r}."
        )
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1):
        raise ValueError(f"{where}: rank must be a positive integer. Received: rank={rank!r}")
    if energy is not None and (not isinstance(energy, (int, float)) or not 0 < energy <= 1):
        raise ValueError(f"{where}: energy must be in (0, 1]. Received: energy={energy!r}")
    named = layers is not None
    targets = (
        find_layers(model, layers, where)
        if named
        else [layer for _, layer in _walk(model) if type(layer) is Dense]
    )

    plan, report = {}, []
    for layer in targets:
        w = layer.kernel.data.astype(np.float64)
        n_in, n_out = w.shape
        u, sigma, vt = np.linalg.svd(w, full_matrices=False)
        r = _rank_for(sigma, rank, energy)
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
                stacklevel=2,
            )
            continue
        root = np.sqrt(sigma[:r])
        error = float(np.sqrt(np.sum(sigma[r:] ** 2) / max(np.sum(sigma**2), 1e-300)))
        plan[layer] = (r, (u[:, :r] * root).astype(np.float32), (root[:, None] * vt[:r]).astype(np.float32))
        bias = 0 if not layer.use_bias else n_out
        report.append(
            {
                "layer": layer.name,
                "shape": (n_in, n_out),
                "rank": r,
                "params_before": n_in * n_out + bias,
                "params_after": r * (n_in + n_out) + bias,
                "flops_before": layer.flops_per_sample(),
                "flops_after": 2 * r * (n_in + n_out) + n_out,
                "relative_error": error,
            }
        )

    new = clone(model)
    twin = _counterpart(model, new)
    replacements = {}
    for layer, (r, u_r, v_r) in plan.items():
        bias = [layer.bias.data] if layer.use_bias else []
        replacements[twin[layer]] = rebuilt(LowRankDense, layer, [u_r, v_r] + bias, rank=r)
    replace_layers(new, replacements)
    new.compression_report = report
    if verbose:
        print(format_report(report))
    return new


def format_report(report) -> str:
    """The low-rank report as a table."""
    lines = [f"{'layer':<14}{'in × out':>12}{'rank':>6}{'params':>18}{'FLOPs/sample':>20}{'rel. error':>12}"]
    for row in report:
        lines.append(
            f"{row['layer']:<14}{'%d × %d' % row['shape']:>12}{row['rank']:>6}"
            f"{row['params_before']:>9,} → {row['params_after']:<6,}"
            f"{row['flops_before']:>10,} → {row['flops_after']:<7,}{row['relative_error']:>12.4f}"
        )
    return "\n".join(lines)
