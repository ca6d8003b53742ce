"""The int8 micro-kernels (kernels/int8_simd.py): every path this CPU runs, exact against
kernels/reference.py, at block edges and at the int32 K bound; the portable path forced
through DENSECORE_INT8 (in this process, as the entry points read it on every call, and in
a fresh subprocess); the instructions each SIMD path's inner loop is made of."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from densecore import kernels
from densecore.kernels import int8_simd, quant

HOST = int8_simd.host_paths()
ref, cpu = kernels.get("reference"), kernels.get("cpu")

dims = st.integers(1, 67)  # odd sizes, across MR (4, 6, 8), NR (32) and ROWS (64)
ks = st.sampled_from([1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67, 130])  # K % 4 edges


@pytest.fixture(params=HOST)
def path(request, monkeypatch):
    monkeypatch.setenv("DENSECORE_INT8", request.param)
    return request.param


def test_the_host_runs_its_fastest_path_by_default(monkeypatch):
    monkeypatch.delenv("DENSECORE_INT8", raising=False)
    assert int8_simd.choose_path() == HOST[0]
    assert HOST[-1] == "portable"
    assert int8_simd.host_paths("+avx2,-avx512f") == ["avx2", "portable"]
    assert int8_simd.host_paths("+avx2,+avxvnni") == ["vnni256", "avx2", "portable"]
    assert int8_simd.host_paths("+avx2,+avx512f,+avx512bw,+avx512vnni,+avx512vl")[:3] == [
        "vnni512",
        "vnni256",
        "avx512bw",
    ]
    assert int8_simd.host_paths("+neon") == ["portable"]


def test_a_forced_path_must_exist_and_run_here(monkeypatch):
    monkeypatch.setenv("DENSECORE_INT8", "sse9")
    with pytest.raises(ValueError, match="expected one of"):
        cpu.int8_matmul(np.ones((1, 1), np.int8), np.ones((1, 1), np.int8))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=dims, k=ks, m=dims, seed=st.integers(0, 2**16), packed=st.booleans(), order=st.sampled_from("CF"))
def test_int8_matmul_is_exact_on_every_path(path, n, k, m, seed, packed, order):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (n, k)).astype(np.int8)
    b = np.asarray(rng.integers(-128, 128, (k, m)).astype(np.int8), order=order)
    c = cpu.int8_matmul(a, quant.pack_panels(b) if packed else b)
    assert c.dtype == np.int32 and c.shape == (n, m)
    np.testing.assert_array_equal(c, ref.int8_matmul(a, b))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=dims,
    k=ks,
    m=dims,
    seed=st.integers(0, 2**16),
    activation=st.sampled_from([None, "relu", "tanh", "sigmoid"]),
    x_zero=st.integers(-128, 127),
    packed=st.booleans(),
)
def test_qdense_equals_the_reference_bit_for_bit(path, n, k, m, seed, activation, x_zero, packed):
    """Same int32 accumulators and the same float epilogue: the same float32 bits."""
    rng = np.random.default_rng(seed)
    xq = rng.integers(-128, 128, (n, k)).astype(np.int8)
    wq_t = rng.integers(-127, 128, (m, k)).astype(np.int8)
    sums = wq_t.sum(axis=1, dtype=np.int32)
    scale = rng.uniform(1e-3, 1e-1, m).astype(np.float32)
    bias = rng.standard_normal(m).astype(np.float32)
    args = (0.05, x_zero, None, scale, sums, bias, activation)
    want = ref.qdense_forward(xq, args[0], x_zero, wq_t, *args[3:])
    w = quant.pack_panels(wq_t, transposed=True) if packed else wq_t
    np.testing.assert_array_equal(cpu.qdense_forward(xq, args[0], x_zero, w, *args[3:]), want)


@pytest.mark.parametrize("n", [1, 7, 8])  # the GEMV kernel, the 4 + 2 + 1 edges, every path's MR rows
def test_exact_at_the_k_bound_with_all_minus_128(path, n):
    """K ≤ MAX_K = 131071 on every path: the packed B + 128 makes the raw sums wrap past int32
    (a = −128, b = 127: Σ 255 · (−128) = −4.3e9), and the row-sum correction brings them back
    exactly, mod 2³²; all (−128)·(−128) products reach 16384 · 131071 = 2³¹ − 16384."""
    k = quant.MAX_K
    a = np.full((n, k), -128, np.int8)
    b = np.full((k, 33), -128, np.int8)
    b[:, 1] = 127
    b[:, 2] = 0
    c = cpu.int8_matmul(a, b)
    assert int(c[0, 0]) == 128 * 128 * k and int(c[0, 1]) == -128 * 127 * k and int(c[0, 2]) == 0
    np.testing.assert_array_equal(c, np.broadcast_to(c[0], c.shape))
    np.testing.assert_array_equal(c[0], (b.astype(np.int64) * -128).sum(axis=0))
    with pytest.raises(ValueError, match="131071"):
        cpu.int8_matmul(np.zeros((1, k + 1), np.int8), np.zeros((k + 1, 1), np.int8))
    with pytest.raises(ValueError, match="131071"):
        quant.pack_panels(np.zeros((k + 1, 1), np.int8))


def test_packed_weights_are_checked(path):
    packed = quant.pack_panels(np.ones((5, 3), np.int8))
    with pytest.raises(ValueError, match="do not chain"):
        cpu.int8_matmul(np.ones((2, 4), np.int8), packed)
    w = quant.pack_panels(np.ones((3, 5), np.int8), transposed=True)
    with pytest.raises(ValueError, match="expect 5"):
        cpu.qdense_forward(np.ones((2, 4), np.int8), 1.0, 0, w, np.ones(3), np.ones(3, np.int32))
    with pytest.raises(ValueError, match="w_scale"):
        cpu.qdense_forward(np.ones((2, 5), np.int8), 1.0, 0, w, np.ones(4), np.ones(3, np.int32))
    with pytest.raises(TypeError, match="int8"):
        cpu.int8_matmul(np.ones((2, 4), np.int8), np.ones((4, 2), np.int16))


def test_the_portable_path_forced_in_a_fresh_process():
    code = (
        "import numpy as np\n"
        "from densecore import kernels\n"
        "from densecore.kernels import int8_simd\n"
        "assert int8_simd.choose_path() == 'portable'\n"
        "rng = np.random.default_rng(1)\n"
        "a = rng.integers(-128, 128, (37, 67)).astype(np.int8)\n"
        "b = rng.integers(-128, 128, (67, 45)).astype(np.int8)\n"
        "c = kernels.get('cpu').int8_matmul(a, b)\n"
        "assert np.array_equal(c, a.astype(np.int64) @ b.astype(np.int64))\n"
        "print('portable ok')\n"
    )
    env = {**os.environ, "DENSECORE_INT8": "portable"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "portable ok" in out.stdout


INSTRUCTIONS = {
    "vnni512": r"vpdpbusd\s+%?zmm",
    "vnni256": r"vpdpbusd\s+%?ymm",
    # vpmaddwd + vpaddd; on a CPU with AVX-512 VNNI, LLVM fuses the pair into vpdpwssd (the
    # same non-saturating int16 pair sums, accumulated in one instruction)
    "avx512bw": r"(?:vpmaddwd|vpdpwssd)\s+%?zmm",
    "avx2": r"(?:vpmaddwd|vpdpwssd)\s+%?ymm",
    "avx2_s7": r"vpmaddubsw\s+%?ymm",  # (then a vpmaddwd by ones, or its vpdpwssd fusion)
}
SIMD = [p for p in HOST if p != "portable"] + [int8_simd.TWINS[p] for p in HOST if p in int8_simd.TWINS]


def _probe(name):
    """A small compiled function that runs `name`'s micro-kernels (raw sums, every edge
    height) and nothing else: its assembly compiles in 0.3–1 s where a fresh driver takes 6–10."""
    mr_full = int8_simd.PATHS[name][2]

    @njit(cache=False)  # a fresh compile: its assembly can be read
    def probe(tile, a, tail, panel, nq):
        int8_simd._micro(name, mr_full, mr_full, tile, a, tail, panel, nq, False)

    return probe


@pytest.mark.parametrize("name", SIMD)
def test_each_simd_path_runs_its_dot_product_instruction(name):
    """The compiled micro-kernel holds the path's instruction, MR·NR/lanes of them per K quad
    in the full tile's loop (vnni512: 8 rows × 2 zmm = 16 vpdpbusd)."""
    lanes, kind, mr, per_pass = int8_simd.PATHS[name]
    probe = _probe(name)
    # (the pmaddwd kernels read A as the driver widens it: int16 rows of whole quads and a tail)
    a = np.ones((mr, 12), np.int16) if kind == "pmaddwd" else np.ones((mr, 8), np.int8)
    panel = quant.pack_panels(np.ones((8, 32), np.int8)).panels[0]
    tile, tail = np.zeros((mr, int8_simd.NR), np.int32), np.zeros((mr, int8_simd.QUAD), np.int8)
    probe(tile, a, tail, panel, 2)
    assert (tile == 8 * (1 + 128)).all()  # the raw sums: b + 128, before the row-sum correction
    asm = "\n".join(probe.inspect_asm().values())
    count = len(re.findall(INSTRUCTIONS[name], asm))
    assert count >= mr * per_pass, (name, count)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(0, 70),
    widths=st.lists(st.sampled_from([1, 3, 5, 9, 31, 32, 33, 67, 130]), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(["relu", "tanh", None]), min_size=3, max_size=3),
    seed=st.integers(0, 2**16),
    order=st.sampled_from("CF"),
)
def test_a_chain_of_layers_equals_the_reference_layer_by_layer(path, n, widths, acts, seed, order):
    """launch_chain (the integer layers of a model in one compiled call) against the reference
    twin: per layer reference.quantize with the layer's input scale and zero point, then
    reference.qdense_forward, its float32 output the next layer's input. Bit for bit."""
    rng = np.random.default_rng(seed)
    x = np.asarray((3 * rng.standard_normal((n, widths[0]))).astype(np.float32), order=order)
    layers, want = [], x
    for (k, m), act in zip(zip(widths, widths[1:]), acts):
        wq_t = rng.integers(-127, 128, (m, k)).astype(np.int8)
        sums = wq_t.sum(axis=1, dtype=np.int32)
        w_scale = rng.uniform(1e-3, 1e-1, m).astype(np.float32)
        bias = rng.standard_normal(m).astype(np.float32)
        x_scale, x_zero = float(np.float32(rng.uniform(0.01, 0.1))), int(rng.integers(-20, 20))
        xq = ref.quantize(want, x_scale, x_zero)
        want = ref.qdense_forward(xq, x_scale, x_zero, wq_t, w_scale, sums, bias, act)
        packed = quant.pack_panels(wq_t, transposed=True)
        code = kernels.activations.code(act, "test")
        layers.append(
            (packed, *quant.fold(x_scale, x_zero, w_scale, sums, bias), code, x_scale, x_zero, -128, 127)
        )
    got = int8_simd.launch_chain(np.ascontiguousarray(x), int8_simd.Chain(layers))
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# ---- narrow A: the avx2 path's vpmaddubsw twin (exact for A in [-64, 63]) ----
def test_narrow_a_selects_the_twin_only_where_the_path_has_one(path):
    lo, hi = int8_simd.NARROW
    assert (lo, hi) == (-64, 63)  # 2 · 255 · 64 = 32640 ≤ 32767: vpmaddubsw's pairs never saturate
    assert int8_simd.kernel_path(False) == path
    assert int8_simd.kernel_path(True) == int8_simd.TWINS.get(path, path)
    assert int8_simd.is_narrow(lo, hi) and not int8_simd.is_narrow(lo - 1, hi)
    assert not int8_simd.is_narrow(lo, hi + 1)
    narrow = np.array([[lo, hi]], np.int8)
    assert int8_simd.narrow_array(narrow) == (path in int8_simd.TWINS)
    assert not int8_simd.narrow_array(np.array([[lo - 1, 0]], np.int8))
    assert not int8_simd.narrow_array(np.array([[0, hi + 1]], np.int8))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=dims, k=ks, m=dims, seed=st.integers(0, 2**16), packed=st.booleans())
def test_int8_matmul_is_exact_for_narrow_a_on_every_path(path, n, k, m, seed, packed):
    """A in [-64, 63] (7-bit activations): the twin where the path has one, against the
    reference's int64 products, B over the whole int8 range."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-64, 64, (n, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, m)).astype(np.int8)
    np.testing.assert_array_equal(cpu.int8_matmul(a, quant.pack_panels(b) if packed else b), ref.int8_matmul(a, b))


@pytest.mark.parametrize("n", [1, 7, 8])
@pytest.mark.parametrize("a_value", [-64, 63])
def test_narrow_a_is_exact_at_the_saturation_edge_and_the_k_bound(path, n, a_value):
    """vpmaddubsw's largest pair sums: (b + 128 = 255) · a twice, a = -64 and 63 (-32640 and
    32130, inside int16), and b = -128 (u8 0); over K = MAX_K, whose raw sums wrap int32."""
    k = quant.MAX_K
    a = np.full((n, k), a_value, np.int8)
    b = np.zeros((k, 35), np.int8)
    b[:, 0], b[:, 1], b[:, 2] = 127, -128, 1
    c = cpu.int8_matmul(a, b)
    np.testing.assert_array_equal(c, np.broadcast_to((a[:1].astype(np.int64) @ b.astype(np.int64)), c.shape))
    assert int(c[0, 0]) == 127 * a_value * k and int(c[0, 1]) == -128 * a_value * k


def test_one_value_outside_narrow_keeps_the_exact_int16_route(path):
    """A single -65 (or 64) among narrow values: the pairs (b + 128) · a could reach
    2 · 255 · 65 = 33150 > 32767, so the twin must not run; the result stays exact."""
    rng = np.random.default_rng(5)
    for outlier in (-65, 64, -128, 127):
        a = rng.integers(-64, 64, (9, 130)).astype(np.int8)
        a[4, 17] = a[4, 18] = outlier
        b = np.full((130, 40), 127, np.int8)
        np.testing.assert_array_equal(cpu.int8_matmul(a, b), ref.int8_matmul(a, b))


def test_a_chain_of_narrow_layers_runs_the_twin_with_the_reference_bits(path):
    """Layers quantizing their inputs to [-64, 63] (7 bits): the chain is narrow (the twin
    where the path has one) and equals reference.quantize + reference.qdense_forward."""
    rng = np.random.default_rng(9)
    x = (3 * rng.standard_normal((37, 67))).astype(np.float32)
    layers, want = [], x
    for k, m in ((67, 130), (130, 33)):
        wq_t = rng.integers(-127, 128, (m, k)).astype(np.int8)
        sums = wq_t.sum(axis=1, dtype=np.int32)
        w_scale = rng.uniform(1e-3, 1e-1, m).astype(np.float32)
        bias = rng.standard_normal(m).astype(np.float32)
        x_scale, x_zero = float(np.float32(0.1)), 3
        xq = ref.quantize(want, x_scale, x_zero, 7)
        assert xq.max() == 63 and xq.min() == (-64 if k == 67 else x_zero)  # (edges reached; relu ≥ 0)
        want = ref.qdense_forward(xq, x_scale, x_zero, wq_t, w_scale, sums, bias, "relu")
        code = kernels.activations.code("relu", "test")
        fold = quant.fold(x_scale, x_zero, w_scale, sums, bias)
        layers.append((quant.pack_panels(wq_t, transposed=True), *fold, code, x_scale, x_zero, -64, 63))
    chain = int8_simd.Chain(layers)
    assert chain.narrow
    np.testing.assert_array_equal(int8_simd.launch_chain(x, chain), want)
