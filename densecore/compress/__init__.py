"""Making a trained dense model cheaper. Every function returns a new model and leaves the
original untouched.

    surgery.py       walk, find, copy and swap layers: what every transformation shares
    lowrank.py       fewer parameters: truncated SVD of each kernel, or of the kernel whitened by
                     the data that reaches it (LowRankDense)
    budget.py        one budget (parameters or FLOPs) spread over the layers' ranks
    pruning.py       fewer nodes: structured pruning of hidden units
    distill.py       a small student trained on a teacher's softened outputs
    quantization.py  integers: post-training quantization and quantization-aware training
    sweep.py         one knob swept over its values; every method on one Pareto report

Imports `densecore.nn`, `densecore.engine` and `densecore.kernels` below it.
"""

from .budget import fit_budget, format_budget
from .distill import distill
from .lowrank import format_report, low_rank
from .pruning import prune_units
from .quantization import convert, model_bytes, quantize, quantize_aware
from .surgery import clone, find_layers, rebuilt, replace_layers
from .sweep import format_pareto, pareto, sweep

__all__ = [
    "low_rank",
    "format_report",
    "fit_budget",
    "format_budget",
    "sweep",
    "pareto",
    "format_pareto",
    "prune_units",
    "distill",
    "quantize",
    "quantize_aware",
    "convert",
    "model_bytes",
    "clone",
    "find_layers",
    "rebuilt",
    "replace_layers",
]
