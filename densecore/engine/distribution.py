"""Data-parallel training over MPI: the same script under `mpiexec -n R python train.py`.

    import densecore as dc
    dc.distribution.initialize()                    # world size 1 when not launched by mpiexec
    model.fit(x, y, batch_size=512, epochs=5)       # batch_size is the GLOBAL batch, as Keras
    if dc.distribution.is_chief():
        model.save("model.dc")

Every rank holds the whole model and the whole data set; `fit` gives each rank a share of
every global batch and sums the gradients over the ranks before the optimizer step, so R
ranks train the model one process would train on the full batch. Why the sum is exact: the
loss of a batch of N samples is a mean, L = (1/N) Σ_i l_i (+ the weights' penalties P). Rank
r holds n_r of those samples, computes its mean L_r = (1/n_r) Σ_{i∈r} l_i and back-propagates

    L'_r = (n_r / N) · L_r + P / R          so that  Σ_r L'_r = (1/N) Σ_i l_i + P = L,

and since the gradient is linear, Σ_r ∇L'_r = ∇L: one allreduce (SUM) of the gradients gives
every rank the full batch's gradient, whatever the split (uneven when R does not divide N).
The same n_r/N scales the losses added in `call` (activity regularizers, add_loss): exact for
losses that are means over the batch, as Keras's are; a custom loss that sums over the batch
would count R times too little. The metrics are summed through their `variable_names` (Keras's
variables): a custom metric must list its state there.

What is summed over the ranks: the gradients, the loss and the metrics' counts of every step
(one allreduce of one flat buffer), so History, callbacks, EarlyStopping and the progress bar
see the global figures and every rank takes the same decisions (stop on a non-finite loss, stop
early, save the best); evaluate's loss and counts (each rank evaluates its share of the data);
predict's outputs (gathered in order, on every rank); at the end of fit, the non-trainable
weights (averaged). What stays per rank: BatchNormalization's batch statistics during training
(each rank normalises its share of the batch by that share's mean and variance, as Keras's
multi-worker training does, and updates its moving statistics from them until fit averages
them); Dropout's masks (each rank's keys are offset by its rank, so ranks drop different
units). evaluate and predict are collective (every rank must call them) unless called within
`local()` (test_on_batch too); train_on_batch runs on the calling rank alone.
The progress bar, ModelCheckpoint and CSVLogger write on rank 0 only; `model.save` writes
where it is called: guard it with `is_chief()`.

The GPU backend: the gradients are copied to the host for the allreduce and back (correct,
not fast); CUDA-aware MPI or NCCL is left for later.

This module is the MPI side, and imports mpi4py only inside `initialize()` (the `[mpi]`
extra: `pip install densecore[mpi]` brings mpi4py and MPICH's wheel; on a cluster install
mpi4py alone, built against the site's MPI). The training side is in densecore/nn/training.py.

Failure: an MPI job whose ranks stop meeting in collectives hangs. While a distributed fit
runs (`guard`), an exception or `sys.exit` on any rank prints its traceback and calls
`MPI.COMM_WORLD.Abort`, which ends every rank at once with a non-zero exit; a rank killed by a
signal makes `mpiexec` end the others. A rank that freezes cannot be told from a slow one:
set `MPIEXEC_TIMEOUT=<seconds>` (MPICH's mpiexec) to bound the whole job's time. (A rank
that calls os._exit(0) skips every Python hook: MPICH's mpiexec then ends the others, but
exits 0.)
"""

import atexit
import contextlib
import hashlib
import json
import os
import sys
import time
import traceback

import numpy as np

from . import random as dc_random

# environment variables a launcher sets (MPICH/Intel hydra, Slurm PMI2, Open MPI, PMIx, MVAPICH)
_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

_state = {
    "initialized": False,
    "comm": None,  # MPI.COMM_WORLD when size > 1
    "MPI": None,
    "rank": 0,
    "size": 1,
    "local": 0,  # depth of `local()` blocks
    "guarded": 0,  # depth of `guard()` blocks: a rank leaving inside one aborts the job
}

stats = {"allreduce_s": 0.0, "allreduce_calls": 0}
"""Time spent in `ReduceBuffer.allreduce` since the last `reset_stats()` (what the benchmark
reports as the allreduce's share of a step; it includes waiting for the slowest rank)."""


def _launched() -> bool:
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def initialize() -> None:
    """Join the MPI job this process was launched in (`mpiexec -n R python script.py`).

    Launched alone (`python script.py`), there is no job: the world is this process, of size
    1, and nothing is imported. Call it once, before building or training models.

    Raises:
        RuntimeError: when called a second time.
        ImportError: when launched by an MPI launcher but mpi4py is not installed
            (`pip install densecore[mpi]`).

    Example:
        >>> import densecore as dc
        >>> dc.distribution.size()       # before initialize(), and whenever launched alone
        1
    """
    if _state["initialized"]:
        raise RuntimeError(
            "dc.distribution.initialize() was already called in this process; call it once, at "
            "the start of the script."
        )
    if not _launched():
        _state["initialized"] = True
        return
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "dc.distribution.initialize(): this process was started by an MPI launcher, but "
            f"mpi4py cannot be imported ({exc}); install it with `pip install densecore[mpi]` "
            "(or mpi4py built against your cluster's MPI)."
        ) from exc
    comm = MPI.COMM_WORLD
    _state.update(initialized=True, MPI=MPI, rank=comm.Get_rank(), size=comm.Get_size())
    if comm.Get_size() > 1:
        _state["comm"] = comm
        atexit.register(_abort_if_guarded)  # runs before MPI_Finalize (mpi4py's is Py_AtExit)


def rank() -> int:
    """This process's rank, from 0 (0 when not distributed)."""
    return _state["rank"]


def size() -> int:
    """The number of processes training together (1 when not distributed)."""
    return _state["size"]


def is_chief() -> bool:
    """Whether this is rank 0: the one that prints progress and writes files."""
    return _state["rank"] == 0


def barrier() -> None:
    """Wait until every rank gets here (nothing to wait for when not distributed)."""
    if _state["comm"] is not None:
        _state["comm"].Barrier()


def active() -> bool:
    """Whether fit, evaluate and predict run across ranks now: more than one rank, outside
    `local()`."""
    return _state["comm"] is not None and not _state["local"]


@contextlib.contextmanager
def local():
    """Within this block, fit, evaluate and predict run on this rank alone (e.g. a predict on
    the chief only: `if is_chief(): with local(): model.predict(x)`). Outside it, they are
    collective: every rank must call them, or the others wait for it."""
    _state["local"] += 1
    try:
        yield
    finally:
        _state["local"] -= 1


# ---- collectives used by training ------------------------------------------------------
def share(count: int, parts: int = None, index: int = None) -> slice:
    """This rank's contiguous share of `count` items split into `parts` near-equal parts
    (the first count % parts get one more): parts [k·count//R, (k+1)·count//R)."""
    parts = size() if parts is None else parts
    index = rank() if index is None else index
    return slice(index * count // parts, (index + 1) * count // parts)


def agree(where: str, facts: dict) -> None:
    """Raise the same ValueError on every rank unless every rank passed equal `facts`
    (a dict of plain values); one allgather."""
    every = _state["comm"].allgather(facts)
    for name in facts:
        values = [f.get(name) for f in every]
        if any(v != values[0] for v in values):
            shown = ", ".join(f"rank {r}: {v!r:.60}" for r, v in enumerate(values))
            raise ValueError(
                f"{where}: every rank must {name}; they differ ({shown}). "
                f"Launch the same script on the same data on every rank."
            )


def signature(value) -> str:
    """A short hash of a JSON-able description (objects it cannot write count by their
    class name: addresses differ from process to process)."""
    text = json.dumps(value, sort_keys=True, default=lambda o: type(o).__name__)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def broadcast_arrays(arrays) -> None:
    """Overwrite each (host, contiguous) array with rank 0's, in place."""
    comm = _state["comm"]
    for array in arrays:
        comm.Bcast(array, root=0)


def broadcast(value):
    """Rank 0's `value` (any picklable object) on every rank."""
    return _state["comm"].bcast(value, root=0)


def broadcast_random_state(generator=None) -> None:
    """Give `generator` (default: densecore's seeded stream) rank 0's state on every rank,
    so that every rank draws the same shuffles from then on."""
    generator = dc_random.generator() if generator is None else generator
    generator.bit_generator.state = broadcast(generator.bit_generator.state)


def allreduce_sum(arrays) -> list:
    """The sum over ranks of each array of a list, shapes broadcast as numpy does (a metric
    still at its scalar zero on one rank adds to another's array); one allgather."""
    every = _state["comm"].allgather(list(arrays))
    return [sum(values[1:], np.asarray(values[0], np.float64)) for values in zip(*every)]


def allgather(value) -> list:
    """Every rank's `value`, in rank order."""
    return _state["comm"].allgather(value)


class ReduceBuffer:
    """One flat array, summed over the ranks in place by one allreduce (MPI.IN_PLACE): a
    step's gradients, then `extra` numbers (the loss, the metrics' counts). Made once and
    kept between steps, so a step allocates nothing to communicate.

    Args:
        shapes: the shapes of the gradients, in order.
        extra: how many numbers follow them.
        dtype: float32 for float32 weights.
    """

    def __init__(self, shapes, extra, dtype=np.float32):
        sizes = [int(np.prod(shape)) for shape in shapes]
        self.key = (tuple(tuple(s) for s in shapes), extra, np.dtype(dtype).str)
        self.flat = np.zeros(sum(sizes) + extra, dtype)
        offsets = np.cumsum([0, *sizes])
        self.views = [self.flat[o : o + n].reshape(s) for o, n, s in zip(offsets, sizes, shapes)]
        self.extra = self.flat[offsets[-1] :]

    def allreduce(self) -> None:
        """Sum `flat` over every rank, in place (every rank gets the same sum)."""
        MPI = _state["MPI"]
        start = time.perf_counter()
        _state["comm"].Allreduce(MPI.IN_PLACE, self.flat, op=MPI.SUM)
        stats["allreduce_s"] += time.perf_counter() - start
        stats["allreduce_calls"] += 1


def reset_stats() -> None:
    stats.update(allreduce_s=0.0, allreduce_calls=0)


# ---- failure -----------------------------------------------------------------------------
def abort(code: int = 1) -> None:
    """End every rank of the job now (MPI_Abort), with exit status `code`."""
    sys.stdout.flush()
    sys.stderr.flush()
    _state["comm"].Abort(code)


@contextlib.contextmanager
def guard(where: str):
    """Within this block, a rank that leaves by an exception (sys.exit included) prints why
    and aborts the whole job: the other ranks would otherwise wait for it in their next
    collective for ever. (Errors every rank raises alike, before the block, stay errors.)"""
    _state["guarded"] += 1
    try:
        yield
    except BaseException:
        print(
            f"densecore.distribution: rank {rank()} of {size()} left {where} with the error "
            f"below; aborting every rank (MPI_Abort).",
            file=sys.stderr,
        )
        traceback.print_exc()
        abort(1)
        raise  # (not reached)
    finally:
        _state["guarded"] -= 1


def _abort_if_guarded() -> None:
    """atexit: a rank exiting inside a guarded block (a thread's os-level exit path that did
    not raise through it) takes the job down rather than leaving the others waiting."""
    if _state["guarded"] and _state["comm"] is not None:
        print(
            f"densecore.distribution: rank {rank()} exited during a distributed fit; aborting.",
            file=sys.stderr,
        )
        abort(1)
