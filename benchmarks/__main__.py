"""python -m benchmarks [suites] [--shapes NxKxM,...] [--threads T] [--quick] [--out F.json]
python -m benchmarks compare a.json b.json [--fail-above 1.10]

Suites: dense (forward and backward of one dense layer), lowrank (a factored layer against
the dense one), int8 (integer inference against float), compress (accuracy and speed of low
rank, pruning, transfer), train (fit
throughput of an MLP), distributed (fit over MPI ranks: needs densecore[mpi]).
Every backend of ours that runs here is timed beside numpy (BLAS) and, when installed, PyTorch.
See benchmarks/method.py for how the numbers are taken.
"""

import argparse
import os
import sys


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "suites",
        nargs="*",
        default=["dense", "lowrank", "int8", "train"],
        help="dense, lowrank, int8, compress, train, distributed, or 'compare A.json B.json'",
    )
    parser.add_argument("--shapes", help="NxKxM,... (batch x in x out) for the dense suite")
    parser.add_argument("--batches", help="batch sizes for the train suite, e.g. 32,128,512")
    parser.add_argument("--threads", type=int, help="threads for numba, BLAS and torch")
    parser.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="element type for the dense suite (default float32)",
    )
    parser.add_argument("--backends", help="our backends to time (default: all available)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes and few rounds (CI)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per case (default 5, quick 2)")
    parser.add_argument("--out", help="write every measurement and the machine facts to this JSON file")
    parser.add_argument("--plot", metavar="DIR", help="write PNG plots (needs matplotlib) to DIR")
    parser.add_argument(
        "--fail-above",
        type=float,
        default=None,
        help="compare: exit 1 when a case's median time grew by more than this ratio",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.suites[:1] == ["compare"]:
        from .compare import compare

        if len(args.suites) != 3:
            raise SystemExit("usage: python -m benchmarks compare A.json B.json [--fail-above R]")
        return compare(args.suites[1], args.suites[2], args.fail_above)
    if args.threads:  # before numpy and numba start their thread pools
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    from .report import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
