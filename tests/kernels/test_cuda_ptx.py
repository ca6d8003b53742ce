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

    from densecore.kernels.cuda import elementwise as ew
    from densecore.kernels.cuda import gemm

    cases = []
    for name, nb in (("float32", float32), ("float64", float64), ("int32", int32)):
        operand = int8 if name == "int32" else nb
        mat, vec = nb[:, ::1], nb[::1]
        cases.append(
            (
                f"gemm {name}",
                gemm._GEMM[np.dtype(name)],
                (mat, operand[:, ::1], operand[:, ::1], boolean, boolean, vec, int64),
            )
        )
    for name, nb in (("float32", float32), ("float64", float64)):
        mat, vec = nb[:, ::1], nb[::1]
        s = (nb,) * 9  # the optimizer steps' scalars come in w's dtype, their flags as bools
        cases += [
            (f"dz_db {name}", gemm._DZ_DB[np.dtype(name)], (mat, vec, mat, mat, int64)),
            (f"sgd {name}", ew.sgd, (vec, vec, vec, nb, nb, boolean, nb)),
            (f"adam {name}", ew.adam, (vec,) * 5 + s[:6] + (boolean,)),
            (f"rmsprop {name}", ew.rmsprop, (vec,) * 5 + s[:7] + (boolean,)),
            (f"adamax {name}", ew.adamax, (vec,) * 4 + s[:5]),
            (f"nadam {name}", ew.nadam, (vec,) * 4 + s[:9]),
            (f"adagrad {name}", ew.adagrad, (vec,) * 3 + s[:4]),
            (f"quantize {name}", ew.quantize, (int8[:, ::1], mat, float32[::1], int32[::1], int64, int64)),
            (f"add {name}", ew.add, (vec, vec, vec)),
            (f"softmax {name}", ew.softmax_rows, (mat, mat)),
            (f"sigmoid {name}", ew.sigmoid, (vec, vec)),
            (
                f"sparse loss {name}",
                ew.cross_entropy_rows,
                (float64[::1], mat, mat, int64[:, ::1], int64, float64, float64[::1]),
            ),
            (
                f"loss {name}",
                ew.cross_entropy_rows,
                (float64[::1], mat, mat, mat, int64, float64, float64[::1]),
            ),
            (
                f"squared error {name}",
                ew.squared_error_rows,
                (float64[::1], mat, mat, mat, float64, float64[::1]),
            ),
            (f"sparse count {name}", ew.correct_rows, (float64[::1], mat, int64[:, ::1], int64)),
            (f"dropout {name}", ew.dropout, (vec, vec, uint32, uint32, uint32, nb)),
            (f"count {name}", ew.correct_rows, (float64[::1], mat, mat, int64)),
        ]
    cases += [
        ("dequantize", ew.dequantize, (float32[:, ::1], int8[:, ::1], float32[::1], int32[::1])),
        (
            "rescale",
            ew.rescale,
            (float32[:, ::1], int32[:, ::1], float32[::1], int32[::1], float32[::1], int64),
        ),
        ("sum", ew._sum, (float64[::1], float64[::1])),
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
