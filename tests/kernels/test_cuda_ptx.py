"""Every CUDA kernel compiles for a real GPU (PTX for sm_90, the H200's), without one.

The simulator runs kernels as Python, so it cannot catch what numba's CUDA compiler rejects
(a type it cannot unify, a call it cannot lower). Where numba-cuda finds NVVM
(`pip install "numba-cuda[cu12]"`), these tests compile each kernel for the types it is
launched with; elsewhere (CI, the simulator) they are skipped.
"""

import types

import numpy as np
import pytest

COMPUTE_CAPABILITY = (9, 0)


@pytest.fixture(scope="module")
def compile_ptx():
    import os

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator compiles nothing")
    try:
        import numba.cuda.dispatcher as dispatcher
        from numba import cuda, int32
    except ImportError:
        pytest.skip("numba-cuda is not installed")
    # Device functions ask the current device for its compute capability: there is none here.
    saved = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=COMPUTE_CAPABILITY)
    try:
        cuda.compile_ptx(lambda a: None, (int32[:],), cc=COMPUTE_CAPABILITY)
    except Exception as exc:  # no NVVM / NVRTC libraries
        dispatcher.get_current_device = saved
        pytest.skip(f"no CUDA compiler here: {type(exc).__name__}")
    yield lambda kernel, signature: cuda.compile_ptx(kernel.py_func, signature, cc=COMPUTE_CAPABILITY)[0]
    dispatcher.get_current_device = saved


def _signatures():
    from numba import boolean, float32, float64, int8, int32, int64, uint32

    from densecore.kernels import cuda as kc

    cases = []
    for name, nb in (("float32", float32), ("float64", float64), ("int32", int32)):
        operand = int8 if name == "int32" else nb
        mat, vec = nb[:, ::1], nb[::1]
        cases.append(
            (
                f"gemm {name}",
                kc._GEMM[np.dtype(name)],
                (mat, operand[:, ::1], operand[:, ::1], boolean, boolean, vec, int64),
            )
        )
    for name, nb in (("float32", float32), ("float64", float64)):
        mat, vec = nb[:, ::1], nb[::1]
        scalars = (float64,) * 5
        cases += [
            (f"dz_db {name}", kc._DZ_DB[np.dtype(name)], (mat, vec, mat, mat, int64)),
            (f"sgd {name}", kc._sgd, (vec, vec, vec, float64, float64, boolean)),
            (f"adam {name}", kc._adam, (vec, vec, vec, vec, *scalars)),
            (f"rmsprop {name}", kc._rmsprop, (vec, vec, vec, vec, *scalars[:4])),
            (f"quantize {name}", kc._quantize, (int8[:, ::1], mat, float32[::1], int32[::1], int64, int64)),
            (f"add {name}", kc._add, (vec, vec, vec)),
            (f"softmax {name}", kc._softmax_rows, (mat, mat)),
            (f"sigmoid {name}", kc._sigmoid, (vec, vec)),
            (
                f"sparse loss {name}",
                kc._cross_entropy_rows,
                (float64[::1], mat, mat, int64[:, ::1], int64, float64, float64[::1]),
            ),
            (
                f"loss {name}",
                kc._cross_entropy_rows,
                (float64[::1], mat, mat, mat, int64, float64, float64[::1]),
            ),
            (
                f"squared error {name}",
                kc._squared_error_rows,
                (float64[::1], mat, mat, mat, float64, float64[::1]),
            ),
            (f"sparse count {name}", kc._correct_rows, (float64[::1], mat, int64[:, ::1], int64)),
            (f"dropout {name}", kc._dropout, (vec, vec, uint32, uint32, uint32, nb)),
            (f"count {name}", kc._correct_rows, (float64[::1], mat, mat, int64)),
        ]
    cases += [
        ("dequantize", kc._dequantize, (float32[:, ::1], int8[:, ::1], float32[::1], int32[::1])),
        ("rescale", kc._rescale, (float32[:, ::1], int32[:, ::1], float32[::1], int32[::1], int64)),
        ("sum", kc._sum, (float64[::1], float64[::1])),
    ]
    return cases


def test_every_cuda_kernel_compiles_for_a_real_gpu(compile_ptx):
    compiled = {}
    for name, kernel, signature in _signatures():
        ptx = compile_ptx(kernel, signature)
        assert ".entry" in ptx, name
        compiled[name] = ptx
    # the register tile stays in registers: no local-memory traffic in the float GEMM
    assert "ld.local" not in compiled["gemm float32"] and "st.local" not in compiled["gemm float32"]
