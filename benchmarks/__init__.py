"""Benchmarks for densecore's kernels and training: `python -m benchmarks --help`."""
