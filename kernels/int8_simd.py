"""Register-blocked int8 GEMM micro-kernels with explicit SIMD (numba `@intrinsic` → LLVM x86).

Shapes: N = rows of A (batch), K = the summed dimension, M = columns of B (outputs).

    C = A · B   exactly in int32, A int8 (N, K), B int8 (K, M)

Why explicit SIMD: LLVM's auto-vectoriser turns one int8 dot product into `vpmovsxbw` +
`vpmaddwd`, but not a register-blocked loop nest (kernels/int8.py's docstring), and it never
emits `vpdpbusd`. Here each micro-kernel is one LLVM IR loop written out by hand
(`_emit_micro`), its accumulators loop-carried vectors, so the inner loop is exactly the
instructions named below and nothing else.

The packed layout (one for every path, so weights packed once serve whichever kernel runs):

    panels[p, q, j, t] = uint8(B[4q + t, p·NR + j] + 128)      (u8 = b XOR 0x80)

NR = 32 columns per panel, K in quads of 4 (the 4 bytes a `vpdpbusd` lane sums), zero
weight (u8 128) padding past K and past M. A row of a panel for one quad is NR·4 = 128
bytes: two zmm loads, unit stride, read in the order the kernel uses them (fbgemm's
PackBMatrix does the same for its u8s8s32 kernels).

Why B + 128 and not A + 128 (fbgemm shifts the activations): `vpdpbusd` multiplies unsigned
bytes by signed bytes. Weights are packed once, so shifting them is free, and A stays as the
caller gives it: each row's 4 bytes are broadcast straight from memory (the {1to16} operand
of `vpdpbusd`, no conversion pass over A). The shift is undone with the row sums of A:

    Σ_k a[i,k] (b[k,j] + 128) = C[i,j] + 128 · Σ_k a[i,k]
    C[i,j] = raw[i,j] − 128 · rowsum_i           (all mod 2³², see the K bound)

The paths (chosen by `choose_path` from the host's CPU features; DENSECORE_INT8=<path>
forces one, e.g. DENSECORE_INT8=portable):

    vnni512   AVX-512 VNNI `vpdpbusd zmm`: 64 u8×s8 products summed 4 at a time into 16
              int32 lanes per instruction. Tile 8 rows × 32 columns = 16 zmm accumulators.
    vnni256   AVX-VNNI (or AVX-512 VNNI + VL) `vpdpbusd ymm`: 32 per instruction.
    avx512bw  `vpmaddwd zmm` on int16: the 32 bytes of 8 columns × 4 k zero-extended
              (`vpmovzxbw`), A's quad (widened to int16 once per row panel by the driver)
              broadcast as one 64-bit lane; 32 products per instruction into (column,
              k-pair) int32 lanes, the two k-pair lanes of a column added when the tile is
              stored.
    avx2      the same on ymm (16 per instruction), 16 registers: tile 4 rows × 8 columns,
              the panel's 32 columns in 4 passes over K (the 1- and 2-row kernels: 16
              columns, 2 passes, so that each pass reads whole 64-byte lines of B).
              Widening A once instead of per quad, row and pass (it was a load, `vpmovsxbw`
              and `vpbroadcastq`: 12 of the loop's 30 instructions per 8 `vpmaddwd`) and the
              wider GEMV passes, measured on the Zen 5 compiled for AVX2, 2 threads:
              256×1024×1024 2.35 → 1.51–1.66 ms, 32×1024×1024 296 → 197 µs, 1×4096×4096
              240 → 180 µs.
    portable  plain numba loops over the same layout (non-x86, or forced).

Narrow A (every value in [−64, 63], NARROW: 7-bit activations, `quantize(reduce_range=True)`
or num_bits ≤ 7): the avx2 path runs its twin `avx2_s7` instead, which emulates `vpdpbusd`
with `vpmaddubsw` + `vpmaddwd`:

    pairs = vpmaddubsw(u8 panel bytes, A's 4 bytes broadcast)   16 int16: a k-pair each
    acc  += vpmaddwd(pairs, 1)                                   8 int32: a column's 4 k

32 products per 3 instructions where the int16 route takes 6 (vpmovzxbw, vpmaddwd,
vpaddd, twice), and the panel's bytes as they lie (no widening, no lane pairs to add at the
end). `vpmaddubsw` saturates each pair sum to int16: with b + 128 ≤ 255 and |a| ≤ 64 a pair
is at most 2·255·64 = 32640 ≤ 32767 (and ≥ −32640), so it never does and the twin is exact;
a full-range A (2·255·128 = 65280) would saturate, so the twin runs only where every value
of A is known to be narrow: the layer's quantization range, or for `int8_matmul(a, b)` a
pass over a. (fbgemm's "reduce_range" is the same trade: 7-bit activations for this
instruction.) Measured by `python -m benchmarks int8` on a Zen 5 with numba compiling for
AVX2 only (NUMBA_CPU_FEATURES with every AVX-512 feature off), 2 threads, relu epilogue:
1×4096×4096 0.271 → 0.156 ms, 32×1024×1024 0.303 → 0.165 ms, 256×1024×1024 2.21 → 1.19 ms
(against the int16 kernel before A was widened once per row panel; after it, 1.51–1.66 ms).
An AVX-512BW twin (zmm, tile 4 × 32) was measured and removed: once avx512bw read A widened,
it ran as fast as the twin (256×1024×1024 655 against 652 µs, 32×1024×1024 97 against 92),
not worth a kernel to compile and test.

The K bound: the same for every path, K ≤ checks.MAX_K = 131071. The true C[i,j] fits int32
there (|a b| ≤ 128·128); `vpdpbusd` (not the saturating `vpdpbusds`) and `vpaddd` wrap, and
`vpmaddwd`'s pair sums (≤ 65280) never saturate, so raw and the correction are exact mod 2³²
and their difference is the true value. (A K-quad of `vpdpbusd` sums 4 products ≤ 255·128 in
one lane: no intermediate clamping either.)

The driver (`_make_driver`) cuts C into tasks of ROWS rows × a group of column panels; per
MR-row panel of A it sums the rows (the correction), copies the last K % 4 bytes of each row
to a zero-padded quad (so the kernel never reads past a row; the pmaddwd paths instead widen
the rows, tail quad included, into an int16 buffer made once per task), then runs the micro-kernel on
each of the group's panels, whose K × NR bytes stay in L2 across the row panels while the MR
rows of A (MR·K bytes) stay in L1 across the panels. K is not blocked: the accumulators stay
in registers for the whole K and the epilogue (the correction, then the int32 store or the
float rescale + activation) runs once per tile from a stack tile, with no int32 scratch
matrix. Rows left over below MR (and batch 1, the GEMV) use a 1-row kernel, which reads each
weight byte once.
"""

import functools
import os

import llvmlite.binding as llvm
import numba
import numba.np.ufunc.parallel as _numba_parallel
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.numpy_support import carray

from . import activations, parallel

NR = 32  # columns per packed panel (the layout; the same for every path)
QUAD = 4  # k per packed group: the bytes one vpdpbusd lane sums
ROWS = 64  # rows of C per task (a multiple of every path's MR)
PREFETCH = 1024  # bytes ahead in B the 1- and 2-row kernels prefetch (0: none); measured on
# Zen 5, one thread: 1×4096×4096 270 → 180 µs (0.5 KiB ahead 200, 2 KiB 196), 1×1024×1024 12.5 → 11.6
PANEL_BYTES = 1 << 19  # bytes of B a task's column group holds (K · NR per panel): stays in L2

# path → (LLVM vector lanes of int32, dot-product kind, MR rows, vectors per pass)
PATHS = {
    "vnni512": (16, "dpbusd", 8, 2),
    "vnni256": (8, "dpbusd", 4, 4),
    "avx512bw": (16, "pmaddwd", 6, 4),
    "avx2": (8, "pmaddwd", 4, 2),
    "portable": (0, "portable", 4, 0),
    "avx2_s7": (8, "pmaddubsw", 4, 2),  # (the twin for narrow A: not chosen by name)
}
ORDER = ("vnni512", "vnni256", "avx512bw", "avx2", "portable")  # fastest first
NARROW = (-64, 63)  # the range of A for which the avx2_s7 twin is exact (module docstring)
TWINS = {"avx2": "avx2_s7"}


@functools.cache
def _host_features():
    return llvm.get_host_cpu_features().flatten()  # (1 ms a call: asked once)


def host_paths(features=None):
    """The paths this CPU can run, fastest first (llvmlite's host features: '+avx512vnni'…)."""
    if features is None:
        return _host_paths()
    return _paths_of(features)


@functools.cache
def _host_paths():
    return _paths_of(_host_features())  # (read once: choose_path runs on every call)


def _paths_of(features: str) -> list:
    flags = set(features.split(","))
    has = {name[1:] for name in flags if name.startswith("+")}
    ok = {"portable"}
    if "avx2" in has:
        ok.add("avx2")
    if {"avx512f", "avx512bw"} <= has:
        ok.add("avx512bw")
    if {"avx512f", "avx512vnni"} <= has:
        ok.add("vnni512")
    if "avxvnni" in has or {"avx512vnni", "avx512vl"} <= has:
        ok.add("vnni256")
    return [p for p in ORDER if p in ok]


_ENV = "DENSECORE_INT8"
try:  # os.environ's own dict (bytes on POSIX): read in 50 ns where os.environ.get takes 1 µs,
    # and kept current by os.environ's setters (monkeypatch.setenv, os.environ[...] = ...)
    _ENV_DATA, _ENV_KEY = os.environ._data, os.environ.encodekey(_ENV)
except AttributeError:  # pragma: no cover  (another os.environ)
    _ENV_DATA = None


def choose_path():
    """The path `int8_matmul`/`qdense_forward` run: DENSECORE_INT8 when set (one of ORDER, and
    runnable here), else the fastest the host has. The variable is read on every call."""
    raw = _ENV_DATA.get(_ENV_KEY) if _ENV_DATA is not None else os.environ.get(_ENV)
    return _path_for(raw)


@functools.lru_cache(maxsize=16)
def _path_for(raw):
    """choose_path for DENSECORE_INT8's raw value (None: unset); errors are not cached."""
    available = host_paths()
    if isinstance(raw, bytes):
        raw = os.environ.decodevalue(raw)
    forced = (raw or "").strip().lower()
    if forced:
        if forced not in ORDER:
            raise ValueError(f"DENSECORE_INT8={forced!r}: expected one of {', '.join(ORDER)}.")
        if forced not in available:
            raise ValueError(f"DENSECORE_INT8={forced!r}: this CPU has only {', '.join(available)}.")
        return forced
    return available[0]


def columns_per_vector(path):
    """Columns of a panel one accumulator vector covers: dpbusd lanes (and pmaddubsw +
    pmaddwd-by-ones lanes) hold a column's 4 k, one column per lane; pmaddwd lanes hold a
    column's k-pair, two lanes per column."""
    lanes, kind, _, _ = PATHS[path]
    return lanes if kind in ("dpbusd", "pmaddubsw") else lanes // 2


def vectors_per_pass(path, mr):
    """Accumulator vectors per row in one pass over K for the mr-row kernel: the path's, but
    for the 1- and 2-row kernels (GEMV) of avx2 the 4 vectors that cover a whole 64-byte
    line of each panel row: with 2, each of the four passes read every line of B, twice the
    bytes (1×4096×4096: 240 against 166 µs on the Zen 5 compiled for AVX2)."""
    lanes, kind, _, per_pass = PATHS[path]
    if kind == "pmaddwd" and mr <= 2:
        return min(NR // columns_per_vector(path), 2 * per_pass)
    return per_pass


def kernel_path(narrow=False):
    """The kernels that run: choose_path()'s, or its `_s7` twin when A is known narrow
    (every value within NARROW) and the path has one."""
    path = choose_path()
    return TWINS.get(path, path) if narrow else path


def is_narrow(q_min, q_max) -> bool:
    """Whether values quantized to [q_min, q_max] are narrow (the avx2_s7 twin is exact)."""
    return NARROW[0] <= q_min and q_max <= NARROW[1]


def narrow_array(a) -> bool:
    """Whether the int8 array a is narrow, asked only where the host's path has a twin (one
    pass over a; elsewhere False at no cost)."""
    return choose_path() in TWINS and a.size > 0 and is_narrow(int(a.min()), int(a.max()))


# ---- the micro-kernels: LLVM IR ----------------------------------------------------------
def _vec(lanes, bits=32):
    return ir.VectorType(ir.IntType(bits), lanes)


def _x86(builder, name, ret, *args):
    fnty = ir.FunctionType(ret, [a.type for a in args])
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), args)


def _splat(builder, value, lanes):
    """value broadcast to every lane (LLVM folds a splat of a load into vpbroadcast / {1toN})."""
    vty = ir.VectorType(value.type, lanes)
    one = builder.insert_element(ir.Constant(vty, None), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vty, None), ir.Constant(_vec(lanes), [0] * lanes))


def _emit_micro(builder, path, mr, tile, a, lda, tail, panel, nq, has_tail, epilogue=None):
    """IR for raw[i, j] = Σ_k a[i, k] · u8[k, j] over i < mr, j < NR, stored to `tile` (int32
    mr × NR, row-major). a: first byte of row 0, rows lda bytes apart, nq full quads read
    from it; then, if has_tail, one more quad from `tail` (mr rows of 4 bytes, zero past K)
    against the panel's quad nq. panel: the packed panel's first byte (quads of NR·4 bytes).
    The pmaddwd paths read A widened to int16 by the driver (`_widen`: rows of nq + 1 quads of
    8 bytes, the tail quad zero-padded; lda in bytes), so that a row's quad is one broadcast
    load rather than a load, a sign extension and a broadcast per row, per quad and per pass.

    With `epilogue` = (mode, out, ldo, mul, fold, res, corr), the tile never reaches memory
    as raw sums: each row's accumulators, still in registers, become C = raw − corr[i] (the
    row-sum correction), stored as int32 to out (mode EP_INT), or y = m_j · f32(C + β_j) +
    r_j (mode EP_LINEAR; EP_RELU: then 0 where y ≤ 0), stored as float32; out: row 0's first
    element, rows ldo elements apart; mul, fold, res: the panel's first column of m, β, r.
    The float steps are the driver's: C + β_j summed in float64 (exact: |C + β| < 2³³) and
    rounded once to float32 (as int64 → float32), then a float32 multiply and a separate
    add (no FMA), so the bits equal kernels/reference.py's.
    """
    lanes, kind, _, _ = PATHS[path]
    per_pass = vectors_per_pass(path, mr)
    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    acc_ty = _vec(lanes)
    cols = columns_per_vector(path)
    quads = cols == lanes  # (a column's 4 k in one lane: no k-pair lanes to add at the end)
    n_vec = NR // cols
    if kind == "dpbusd":
        name = "llvm.x86.avx512.vpdpbusd.512" if lanes == 16 else "llvm.x86.avx512.vpdpbusd.256"
    else:
        name = "llvm.x86.avx512.pmaddw.d.512" if lanes == 16 else "llvm.x86.avx2.pmadd.wd"
    ubsw = "llvm.x86.avx2.pmadd.ub.sw"  # (the twin is avx2's only: ymm)
    bytes_ty, pairs_ty = _vec(lanes * 4, 8), _vec(lanes * 2, 16)
    ones = ir.Constant(pairs_ty, [1] * (lanes * 2))

    def byte_ptr(base, offset):
        return builder.gep(base, [offset])

    def load(ptr, ty):
        return builder.load(builder.bitcast(ptr, ty.as_pointer()), align=1)

    def step(accs, vecs, a_base, a_stride, kq_a, kq_b):
        """One quad of k: every accumulator of the pass takes 4 k of its column(s)."""
        b_row = builder.mul(kq_b, ir.Constant(i64, NR * QUAD))
        if PREFETCH and mr <= 2:  # (few rows: B streams at the rate of loads, from L3 or memory)
            for line in range(0, NR * QUAD, 64):
                ahead = byte_ptr(panel, builder.add(b_row, ir.Constant(i64, PREFETCH + line)))
                pf = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32])
                fn = cgutils.get_or_insert_function(builder.module, pf, "llvm.prefetch.p0i8")
                builder.call(fn, [ahead, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        bs = []
        for v in vecs:
            ptr = byte_ptr(panel, builder.add(b_row, ir.Constant(i64, v * cols * QUAD)))
            if kind == "dpbusd":  # 16 (8) columns × 4 bytes: the u8 operand as it lies
                bs.append(load(ptr, acc_ty))
            elif kind == "pmaddubsw":  # the same bytes, as vpmaddubsw's u8 operand
                bs.append(load(ptr, bytes_ty))
            else:  # 8 (4) columns × 4 bytes, zero-extended to int16 (vpmovzxbw from memory)
                bs.append(builder.zext(load(ptr, _vec(lanes * 2, 8)), _vec(lanes * 2, 16)))
        out = []
        for i in range(mr):
            a_quad = QUAD * (2 if kind == "pmaddwd" else 1)  # (pmaddwd: A widened to int16)
            row = builder.add(
                builder.mul(ir.Constant(i64, i), a_stride), builder.mul(kq_a, ir.Constant(i64, a_quad))
            )
            ptr = byte_ptr(a_base, row)
            if kind == "dpbusd":  # a[i, 4q:4q+4] as one int32, broadcast (the s8 operand)
                av = _splat(builder, load(ptr, i32), lanes)
            elif kind == "pmaddubsw":
                av = builder.bitcast(_splat(builder, load(ptr, i32), lanes), bytes_ty)
            else:  # the quad's 4 int16 (widened by the driver) as one 64-bit lane, broadcast:
                # lanes (a0,a1),(a2,a3) — one vpbroadcastq from memory
                av = builder.bitcast(_splat(builder, load(ptr, i64), lanes // 2), _vec(lanes * 2, 16))
            row_out = []
            for v, b in zip(vecs, bs):
                acc = accs[i][v]
                if kind == "dpbusd":
                    row_out.append(_x86(builder, name, acc_ty, acc, b, av))
                elif kind == "pmaddubsw":  # pair sums (exact for narrow A), then the quads
                    pairs = _x86(builder, ubsw, pairs_ty, b, av)
                    row_out.append(builder.add(acc, _x86(builder, name, acc_ty, pairs, ones)))
                else:
                    row_out.append(builder.add(acc, _x86(builder, name, acc_ty, b, av)))
            out.append(row_out)
        return out

    tile_i32 = builder.bitcast(tile, i32.as_pointer())
    f32, f64 = ir.FloatType(), ir.DoubleType()

    def at(base, ty, index):  # a <lanes x ty> pointer at element `index` of base
        ptr = builder.gep(builder.bitcast(base, ty.as_pointer()), [index])
        return builder.bitcast(ptr, ir.VectorType(ty, lanes).as_pointer())

    def finish(i, col, vec):
        """Row i's `lanes` sums of columns col.. (int32 vector) to their destination."""
        if epilogue is None:
            ptr = builder.gep(tile_i32, [ir.Constant(i64, i * NR + col)])
            builder.store(vec, builder.bitcast(ptr, acc_ty.as_pointer()), align=4)
            return
        mode, out, ldo, mul, fold, res, corr = epilogue
        c_i = builder.sub(vec, _splat(builder, builder.load(builder.gep(corr, [ir.Constant(i64, i)])), lanes))
        index = builder.add(builder.mul(ir.Constant(i64, i), ldo), ir.Constant(i64, col))
        if mode == EP_INT:
            builder.store(c_i, at(out, i32, index), align=4)
            return
        j = ir.Constant(i64, col)
        wide = ir.VectorType(f64, lanes)
        beta = builder.load(at(fold, i32, j), align=4)
        exact = builder.fadd(builder.sitofp(c_i, wide), builder.sitofp(beta, wide))
        z = builder.fptrunc(exact, ir.VectorType(f32, lanes))
        z = builder.fmul(builder.load(at(mul, f32, j), align=4), z)
        z = builder.fadd(z, builder.load(at(res, f32, j), align=4))
        if mode == EP_RELU:  # 0 where z ≤ 0 (NaN stays: activations.apply's rule)
            zero = ir.Constant(ir.VectorType(f32, lanes), None)
            z = builder.select(builder.fcmp_ordered("<=", z, zero), zero, z)
        builder.store(z, at(out, f32, index), align=4)

    passes = [list(range(s, min(n_vec, s + per_pass))) for s in range(0, n_vec, per_pass)]
    # The 1-, 2- (and 4-) row kernels (GEMV, edge rows) have only mr·len(vecs) accumulators,
    # each a chain of dependent vpdpbusd (latency ~4-5 cycles): K is split over `chains`
    # independent sets of them, quad q going to set q % chains, summed at the end (int32
    # adds: exact mod 2³², so the same bits in any order).
    chains = max(1, min(4, (16 if lanes == 16 else 8) // (mr * len(passes[0]))))
    for vecs in passes:
        # accumulators in allocas (promoted to loop-carried registers by LLVM's mem2reg)
        sets = [
            [{v: cgutils.alloca_once(builder, acc_ty) for v in vecs} for _ in range(mr)]
            for _ in range(chains)
        ]
        for slots in sets:
            for row in slots:
                for slot in row.values():
                    builder.store(ir.Constant(acc_ty, None), slot)

        def run(a_base, a_stride, kq_a, kq_b, slots, vecs=vecs):
            accs = [{v: builder.load(row[v]) for v in vecs} for row in slots]
            new = step(accs, vecs, a_base, a_stride, kq_a, kq_b)
            for row, vals in zip(slots, new):
                for v, val in zip(vecs, vals):
                    builder.store(val, row[v])

        if chains == 1:
            with cgutils.for_range(builder, nq) as loop:
                run(a, lda, loop.index, loop.index, sets[0])
        else:
            n_main = builder.udiv(nq, ir.Constant(i64, chains))
            with cgutils.for_range(builder, n_main) as loop:
                base = builder.mul(loop.index, ir.Constant(i64, chains))
                for c, slots in enumerate(sets):
                    kq = builder.add(base, ir.Constant(i64, c))
                    run(a, lda, kq, kq, slots)
            done = builder.mul(n_main, ir.Constant(i64, chains))
            with cgutils.for_range(builder, builder.sub(nq, done)) as loop:
                kq = builder.add(done, loop.index)
                run(a, lda, kq, kq, sets[0])
        slots = sets[0]
        with builder.if_then(has_tail, likely=False):
            if kind == "pmaddwd":  # the widened rows hold the tail quad, zero-padded
                run(a, lda, nq, nq, slots)
            else:
                run(tail, ir.Constant(i64, QUAD), ir.Constant(i64, 0), nq, slots)
        for other in sets[1:]:
            for row, orow in zip(slots, other):
                for v in vecs:
                    builder.store(builder.add(builder.load(row[v]), builder.load(orow[v])), row[v])
        for i, row in enumerate(slots):
            if quads:
                for v in vecs:
                    finish(i, v * cols, builder.load(row[v]))
            else:  # add each column's two k-pair lanes: vectors v, v+1 give `lanes` columns
                for v in vecs[::2]:
                    lo, hi = builder.load(row[v]), builder.load(row[v + 1])
                    even = builder.shuffle_vector(
                        lo, hi, ir.Constant(_vec(lanes), list(range(0, 2 * lanes, 2)))
                    )
                    odd = builder.shuffle_vector(
                        lo, hi, ir.Constant(_vec(lanes), list(range(1, 2 * lanes, 2)))
                    )
                    finish(i, v * cols, builder.add(even, odd))


EP_RAW, EP_INT, EP_LINEAR, EP_RELU = 0, 1, 2, 3  # _emit_micro's epilogue modes


def _micro_function(module, path, mr, mode):
    """The micro-kernel as a function of its own in `module` (made once per module): a call
    per tile costs nothing beside its K loop, and LLVM optimises each kernel once instead of
    every copy inlined into the driver (the driver's compile took 3× longer so)."""
    name = f"densecore_int8_{path}_{mr}_{mode}"
    if name in module.globals:
        return module.globals[name]
    i8p, i64 = ir.IntType(8).as_pointer(), ir.IntType(64)
    params = [i8p, i8p, i64, i8p, i8p, i64, ir.IntType(1), i8p, i64, i8p, i8p, i8p, i8p]
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), params), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    tile, a, lda, tail, panel, nq, has_tail, out, ldo, mul, fold, res, corr = fn.args
    epilogue = None
    if mode != EP_RAW:
        epilogue = (mode, out, ldo, mul, fold, res, builder.bitcast(corr, ir.IntType(32).as_pointer()))
    _emit_micro(builder, path, mr, tile, a, lda, tail, panel, nq, has_tail, epilogue)
    builder.ret_void()
    return fn


def edge_heights(mr_full):
    """The row counts a path's kernels are compiled for: its full tile, then 4, 2, 1 for the
    rows left below it (7 rows: 4 + 2 + 1, three passes over B instead of seven)."""
    return (mr_full,) + tuple(h for h in (4, 2, 1) if h < mr_full)


@intrinsic
def _simd_micro(
    typingctx, path, mr_full, mode, h, tile, a, lda, tail, panel, nq, has_tail, out, ldo, mul, fold, res, corr
):
    """The micro-kernel of h rows (one of edge_heights(mr_full), chosen at run time: a switch
    over the kernels `_micro_function` makes) for a literal path and epilogue mode (EP_*;
    EP_RAW: the raw sums to tile, and out…corr unused); pointers as CPointer or integer
    addresses."""
    literal = (types.StringLiteral, types.IntegerLiteral, types.IntegerLiteral)
    if not all(isinstance(arg, kind) for arg, kind in zip((path, mr_full, mode), literal)):
        return None
    sig = types.void(
        path, mr_full, mode, h, tile, a, lda, tail, panel, nq, has_tail, out, ldo, mul, fold, res, corr
    )

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        tys = signature.args

        def ptr(n):
            if isinstance(tys[n], types.CPointer):
                return builder.bitcast(args[n], i8p)
            return builder.inttoptr(args[n], i8p)

        def int64(n):
            return context.cast(builder, args[n], tys[n], types.int64) if tys[n] != types.int64 else args[n]

        values = [ptr(4), ptr(5), int64(6), ptr(7), ptr(8), int64(9)]
        values += [context.cast(builder, args[10], tys[10], types.boolean), ptr(11), int64(12)]
        values += [ptr(13), ptr(14), ptr(15), ptr(16)]
        rows = int64(3)
        for height in edge_heights(mr_full.literal_value):
            kernel = _micro_function(builder.module, path.literal_value, height, mode.literal_value)
            with builder.if_then(builder.icmp_signed("==", rows, ir.Constant(rows.type, height))):
                builder.call(kernel, values)
        return context.get_dummy_value()

    return sig, codegen


MR_MAX = max(spec[2] for spec in PATHS.values())


def _stack(dtype, size):
    """An intrinsic: a pointer to `size` uninitialised elements of `dtype` on the stack (a
    fixed size, so LLVM keeps them in the frame; a numpy array would be a heap allocation)."""

    @intrinsic
    def stack(typingctx, like):
        sig = types.CPointer(dtype)(like)

        def codegen(context, builder, signature, args):
            count = context.get_constant(types.intp, size)
            return cgutils.alloca_once(builder, context.get_value_type(dtype), size=count)

        return sig, codegen

    return stack


_stack_tile = _stack(types.int32, MR_MAX * NR)  # the micro-kernel's output tile
_stack_tail = _stack(types.int8, MR_MAX * QUAD)  # each row's last K % 4 bytes, zero-padded
_stack_sums = _stack(types.int32, MR_MAX)  # 128 · each row's sum (the correction)


@njit(cache=True, inline="always")
def _portable_micro(mr, tile, a, tail, panel, nq, has_tail):
    """raw = a · u8 as `_emit_micro` computes it, in plain loops (any CPU). Sums the exact
    int64 products, then wraps to int32 like the SIMD paths (the raw sum can exceed int32;
    the row-sum correction brings it back, mod 2³²)."""
    for i in range(mr):
        for j in range(NR):
            s = np.int64(0)
            for q in range(nq):
                for t in range(QUAD):
                    s += np.int64(a[i, q * QUAD + t]) * np.int64(panel[q, j, t])
            if has_tail:
                for t in range(QUAD):
                    s += np.int64(tail[i, t]) * np.int64(panel[nq, j, t])
            tile[i, j] = np.int32(s)  # truncation: the low 32 bits


def _micro(path, mr_full, h, tile, a, tail, panel, nq, has_tail):
    """raw = a · u8 for one tile of h rows (one of edge_heights(mr_full)): the SIMD
    micro-kernel of `path`, or the portable loops."""
    raise NotImplementedError("called from compiled code only")


@overload(_micro, inline="always", prefer_literal=True)
def _micro_impl(path, mr_full, h, tile, a, tail, panel, nq, has_tail):
    if not isinstance(path, types.StringLiteral) or not isinstance(mr_full, types.IntegerLiteral):
        return None
    if path.literal_value == "portable":

        def portable(path, mr_full, h, tile, a, tail, panel, nq, has_tail):
            _portable_micro(h, tile, a, tail, panel, nq, has_tail)

        return portable

    def simd(path, mr_full, h, tile, a, tail, panel, nq, has_tail):
        _simd_micro(
            path,
            mr_full,
            EP_RAW,
            h,
            tile.ctypes.data,
            a.ctypes.data,
            a.strides[0],
            tail.ctypes.data,
            panel.ctypes.data,
            nq,
            has_tail,
            0,
            0,
            0,
            0,
            0,
            0,
        )

    return simd


def _micro_out(path, mr_full, mode, h, a, tail, panel, nq, has_tail, out, mul, fold, res, corr):
    """The SIMD micro-kernel of h rows with its epilogue in registers (`_emit_micro`'s modes)
    for a whole panel of NR columns: True; False on the portable path (the caller then runs
    the raw tile and its own epilogue)."""
    raise NotImplementedError("called from compiled code only")


@overload(_micro_out, inline="always", prefer_literal=True)
def _micro_out_impl(path, mr_full, mode, h, a, tail, panel, nq, has_tail, out, mul, fold, res, corr):
    literal = (types.StringLiteral, types.IntegerLiteral, types.IntegerLiteral)
    if not all(isinstance(arg, kind) for arg, kind in zip((path, mr_full, mode), literal)):
        return None
    if path.literal_value == "portable":
        return lambda path, mr_full, mode, h, a, tail, panel, nq, has_tail, out, mul, fold, res, corr: False

    def simd(path, mr_full, mode, h, a, tail, panel, nq, has_tail, out, mul, fold, res, corr):
        _simd_micro(
            path,
            mr_full,
            mode,
            h,
            0,
            a.ctypes.data,
            a.strides[0],
            tail.ctypes.data,
            panel.ctypes.data,
            nq,
            has_tail,
            out.ctypes.data,
            out.strides[0] // out.itemsize,
            mul.ctypes.data,
            fold.ctypes.data,
            res.ctypes.data,
            corr.ctypes.data,
        )
        return True

    return simd


# ---- the driver: tasks, row sums, epilogue -----------------------------------------------
def _make_driver(path, cache=True):
    """The parallel GEMM for one path (compiled only for the path the host runs, since code
    for a missing instruction set would not compile). cache=False: a copy compiled afresh,
    whose assembly numba can show (`inspect_asm` is disabled for cached code)."""
    mr_full = PATHS[path][2]  # (the closure holds only a str and an int: numba's cache keys
    # a closure by its cells' pickled values, so a function in a cell would miss every time)

    @njit(cache=cache, parallel=True, error_model="numpy")
    def run(
        c,
        y,
        a,
        panels,
        n_cols,
        group,
        multiplier,
        folded,
        residual,
        act,
        to_float,
        x=None,
        x_scale=1.0,
        x_zero=0,
        q_min=0,
        q_max=0,
    ):
        """C = A · B (int32 into c), or, with to_float, y = act(m_j (C + β_j) + r_j) (float32).

        With x (float32, A's shape), A is first written as x quantized (x_scale: a float32
        value; x_zero, q_min, q_max), exactly as kernels/int8.py's quantize (one call, no
        pass of its own from Python). (Python floats and ints: numba reads them faster than
        numpy scalars or a tuple, ~0.7 µs a call for all the arguments.)"""
        if x is not None:
            _quantize(a, x, x_scale, x_zero, q_min, q_max)
        _product(path, mr_full, c, y, a, panels, n_cols, group, multiplier, folded, residual, act, to_float)

    return run


def _make_chain(path, cache=True):
    """The integer layers of a model one after another in one compiled call (`launch_chain`):
    per layer, its float input quantized, then the product into float32, which is the next
    layer's input. The same arithmetic as one `run` per layer, so the same bits; what it
    saves is the Python between layers (~3 µs a layer at batch 1: numba's dispatch, launch's
    decisions, the layer's own checks), a tenth of a batch-1 MLP's integer predict.

    Each layer is a call of `_layer` (compiled once per path, shared with no other caller),
    not an inlined prange: inlined into this loop, numba's array analysis took the layers'
    shapes for one another (the loop-carried input is the previous output) and the results
    were wrong."""
    mr_full = PATHS[path][2]

    @njit(cache=cache, error_model="numpy")
    def chain(x, panels, meta, x_scales, multipliers, folded, residuals):
        """x (N, K0) float32 through len(panels) layers; layer l: panels[l], meta[l] =
        (n_cols, group, act, x_zero, q_min, q_max, offset of its vectors, threads), x_scales[l]
        (its input scale, a float32 value), its multiplier / folded bias / residual at
        [offset : offset + n_cols] of the three flat vectors. Returns the last layer's float32."""
        inputs = x
        for layer in range(len(panels)):
            n_cols, at = meta[layer, 0], meta[layer, 6]
            outputs = np.empty((inputs.shape[0], n_cols), np.float32)
            args = (
                path,
                mr_full,
                outputs,
                inputs,
                panels[layer],
                n_cols,
                meta[layer, 1],
                multipliers[at : at + n_cols],
                folded[at : at + n_cols],
                residuals[at : at + n_cols],
                meta[layer, 2],
                x_scales[layer],
                meta[layer, 3],
                meta[layer, 4],
                meta[layer, 5],
            )
            if meta[layer, 7]:
                _layer(*args)
            else:
                _layer_serial(*args)
            inputs = outputs
        return inputs

    return chain


@njit(cache=True, parallel=True, error_model="numpy")
def _layer(
    path,
    mr_full,
    y,
    x,
    panels,
    n_cols,
    group,
    multiplier,
    folded,
    residual,
    act,
    x_scale,
    x_zero,
    q_min,
    q_max,
):
    """One layer of `_make_chain`'s chain: y = act(m_j (x_q · B + β_j) + r_j), x quantized first."""
    a = np.empty(x.shape, np.int8)
    _quantize(a, x, x_scale, x_zero, q_min, q_max)
    _product(path, mr_full, _NO_C, y, a, panels, n_cols, group, multiplier, folded, residual, act, True)


_layer_serial = parallel.serial(_layer)


@njit(parallel=True, inline="always", error_model="numpy")
def _product(path, mr_full, c, y, a, panels, n_cols, group, multiplier, folded, residual, act, to_float):
    """The driver's tasks: ROWS rows × `group` column panels each, in parallel."""
    n_rows = a.shape[0]
    n_rb = (n_rows + ROWS - 1) // ROWS
    n_cg = (panels.shape[0] + group - 1) // group
    for task in prange(n_rb * n_cg):
        _task(
            path,
            mr_full,
            task,
            n_cg,
            group,
            c,
            y,
            a,
            panels,
            n_cols,
            multiplier,
            folded,
            residual,
            act,
            to_float,
        )


@njit(inline="always", error_model="numpy")
def _task(
    path, mr_full, task, n_cg, group, c, y, a, panels, n_cols, multiplier, folded, residual, act, to_float
):
    """One task of `_product`: per MR-row panel of its rows, the row sums and K tail, then the
    micro-kernel (with its epilogue in registers where it has one) on each of its panels."""
    n_rows, n_k = a.shape
    nq = n_k // QUAD
    has_tail = n_k % QUAD != 0
    n_cp = panels.shape[0]
    rb, cg = task // n_cg, task % n_cg
    wide = _widened(path, mr_full, nq)
    tile = carray(_stack_tile(0), (mr_full, NR))
    tail = carray(_stack_tail(0), (mr_full, QUAD))
    sums = carray(_stack_sums(0), (mr_full,))
    r1 = min(n_rows, (rb + 1) * ROWS)
    row = rb * ROWS
    while row < r1:
        left = r1 - row
        h = mr_full if left >= mr_full else (4 if left >= 4 else (2 if left >= 2 else 1))
        for i in range(h):
            src = a[row + i]
            s = np.int32(0)
            for k in range(n_k):
                s += np.int32(src[k])
            sums[i] = s * np.int32(128)  # the correction for B + 128 (mod 2³²)
            for t in range(QUAD):
                k = nq * QUAD + t
                tail[i, t] = src[k] if k < n_k else 0
        rows = _kernel_rows(path, a[row : row + h], wide, tail, nq)
        for cp in range(cg * group, min(n_cp, (cg + 1) * group)):
            col0 = cp * NR
            width = min(NR, n_cols - col0)
            panel = panels[cp]
            done = False  # whole panels: the epilogue in registers (linear, relu, int32)
            if width == NR and not to_float:
                out = c[row : row + h, col0 : col0 + NR]
                ms, fs, rs = multiplier, folded, residual
                done = _micro_out(
                    path, mr_full, EP_INT, h, rows, tail, panel, nq, has_tail, out, ms, fs, rs, sums
                )
            elif width == NR and (act == activations.RELU or act == activations.LINEAR):
                out = y[row : row + h, col0 : col0 + NR]
                ms, fs, rs = multiplier[col0:], folded[col0:], residual[col0:]
                if act == activations.RELU:
                    done = _micro_out(
                        path,
                        mr_full,
                        EP_RELU,
                        h,
                        rows,
                        tail,
                        panel,
                        nq,
                        has_tail,
                        out,
                        ms,
                        fs,
                        rs,
                        sums,
                    )
                else:
                    done = _micro_out(
                        path,
                        mr_full,
                        EP_LINEAR,
                        h,
                        rows,
                        tail,
                        panel,
                        nq,
                        has_tail,
                        out,
                        ms,
                        fs,
                        rs,
                        sums,
                    )
            if done:
                continue
            _micro(path, mr_full, h, tile, rows, tail, panel, nq, has_tail)
            for i in range(h):
                t_row = tile[i]
                corr = sums[i]
                if to_float:
                    out = y[row + i, col0 : col0 + width]
                    m = multiplier[col0 : col0 + width]
                    f = folded[col0 : col0 + width]
                    r = residual[col0 : col0 + width]
                    if act == activations.RELU:
                        for j in range(width):
                            acc = np.int32(t_row[j] - corr)
                            z = m[j] * np.float32(np.int64(acc) + f[j]) + r[j]
                            out[j] = np.float32(0.0) if z <= 0.0 else z  # (as activations.apply)
                    else:
                        for j in range(width):
                            acc = np.int32(t_row[j] - corr)
                            out[j] = activations.apply(m[j] * np.float32(np.int64(acc) + f[j]) + r[j], act)
                else:
                    out_i = c[row + i, col0 : col0 + width]
                    for j in range(width):
                        out_i[j] = np.int32(t_row[j] - corr)
        row += h


def _widened(path, mr_full, nq):
    """An int16 buffer (mr_full, (nq + 1) · QUAD) for the pmaddwd paths' widened rows of A
    (one per task: its rows are rewritten per row panel); (0, 0) for the other paths."""
    raise NotImplementedError("called from compiled code only")


@overload(_widened, inline="always", prefer_literal=True)
def _widened_impl(path, mr_full, nq):
    if not isinstance(path, types.StringLiteral):
        return None
    if PATHS[path.literal_value][1] == "pmaddwd":
        return lambda path, mr_full, nq: np.empty((mr_full, (nq + 1) * QUAD), np.int16)
    return lambda path, mr_full, nq: np.empty((0, 0), np.int16)


def _kernel_rows(path, rows, wide, tail, nq):
    """The rows as the micro-kernels read them: as they are, or (pmaddwd paths) widened into
    `wide` with their tail quad."""
    raise NotImplementedError("called from compiled code only")


@overload(_kernel_rows, inline="always", prefer_literal=True)
def _kernel_rows_impl(path, rows, wide, tail, nq):
    if not isinstance(path, types.StringLiteral):
        return None
    if PATHS[path.literal_value][1] == "pmaddwd":

        def widened(path, rows, wide, tail, nq):
            _widen(wide, rows, tail, nq)
            return wide[: rows.shape[0]]

        return widened
    return lambda path, rows, wide, tail, nq: rows


@njit(cache=True, inline="always")
def _widen(wide, rows, tail, nq):
    """wide[i] = rows[i]'s first nq quads, then its tail quad (zero past K), as int16."""
    for i in range(rows.shape[0]):
        src, dst = rows[i], wide[i]
        for k in range(nq * QUAD):
            dst[k] = src[k]
        for t in range(QUAD):
            dst[nq * QUAD + t] = tail[i, t]


@njit(cache=True, inline="always")
def _quantize(q, x, scale, zero, q_min, q_max):
    """x quantized into q: on one thread when small (a parallel region costs more than a
    small pass), else by rows in parallel."""
    if x.size < QUANTIZE_SERIAL_MAX:
        _quantize_serial(q, x, scale, zero, q_min, q_max)
    else:
        _quantize_rows(q, x, scale, zero, q_min, q_max)


QUANTIZE_SERIAL_MAX = 1 << 15  # inputs up to which the driver quantizes on one thread


@njit(cache=True, parallel=True, inline="always")
def _quantize_rows(q, x, scale, zero, q_min, q_max):
    """q = clip(rint(x / scale) + zero) (NaN → zero), kernels/int8.py's quantize with one scale
    and zero point: the same float32 division and float64 sum, so the same int8."""
    scale, zero = np.float32(scale), np.int32(zero)
    for n in prange(x.shape[0]):
        for k in range(x.shape[1]):
            v = np.rint(x[n, k] / scale) + zero
            q[n, k] = min(max(v, q_min), q_max) if v == v else zero


@njit(cache=True, inline="always")
def _quantize_serial(q, x, scale, zero, q_min, q_max):
    """_quantize_rows on one thread."""
    scale, zero = np.float32(scale), np.int32(zero)
    for n in range(x.shape[0]):
        for k in range(x.shape[1]):
            v = np.rint(x[n, k] / scale) + zero
            q[n, k] = min(max(v, q_min), q_max) if v == v else zero


_DRIVERS = {}


def driver(path):
    """The compiled driver of `path` (made on first use)."""
    if path not in _DRIVERS:
        _DRIVERS[path] = _make_driver(path)
    return _DRIVERS[path]


_CHAINS = {}


def chain_driver(path):
    """The compiled chain of `path` (made on first use)."""
    if path not in _CHAINS:
        _CHAINS[path] = _make_chain(path)
    return _CHAINS[path]


_NO_C = np.empty((0, 0), np.int32)  # (c when the result is y: read only)
SERIAL_MAX = 1 << 18  # multiply-adds up to which the int8 GEMM runs on one thread: a batch-1
# layer of 784×1024 or 1024×1024 runs on both cores of this Zen 5, whose L2s then hold half
# the weights each (a 784-1024-1024-10 model's chain 31 µs against 43 on one core; but a
# parallel region waits ~8 ms whenever another process holds the other core)


def _num_threads():
    """numba.get_num_threads() (this thread's setting) without its 1 µs of locks once numba's
    threads are up: the threading layer's own getter, numba's when that is not there."""
    getter = getattr(_numba_parallel, "_get_num_threads", None)
    n = getter() if getter is not None else 0
    return n if n > 0 else numba.get_num_threads()


@functools.lru_cache(maxsize=256)
def _schedule(path, n_rows, n_k, n_panels, n_threads):
    """(the driver or its serial twin, panels per task) for a product's shape and the threads
    it may use: the Python decisions of a call, made once per shape."""
    run = driver(path)
    return parallel.choose(run, n_threads > 1), column_group(n_k, n_panels, n_rows, n_threads)


def launch(c, y, a, packed, multiplier, folded, residual, act, to_float, x=None, x_q=None, narrow=False):
    """The int8 GEMM of the path the host runs (or DENSECORE_INT8's), on threads when the
    product is big enough to pay for them: c = a · B (int32), or with to_float y = act(m_j
    (C + β_j) + r_j); with x, a is first filled with x quantized by x_q = (scale, zero,
    q_min, q_max), Python numbers. packed: quant.PackedInt8. narrow: every value of a is
    within NARROW (the caller knows; with x_q, its range says). No checks: the callers'
    (cpu.py, QuantizedDense)."""
    n_rows, n_k = a.shape
    if n_rows == 0 or packed.n_cols == 0:
        return
    if c is None:
        c = _NO_C
    n_panels = packed.panels.shape[0]
    big = n_rows * n_k * n_panels * NR > SERIAL_MAX and parallel.usable()
    if x_q is not None:
        narrow = is_narrow(x_q[2], x_q[3])
    path = kernel_path(narrow)
    run, group = _schedule(path, n_rows, n_k, n_panels, _num_threads() if big else 1)
    if x is None:
        run(c, y, a, packed.panels, packed.n_cols, group, multiplier, folded, residual, act, to_float)
    else:
        run(
            c, y, a, packed.panels, packed.n_cols, group, multiplier, folded, residual, act, to_float, x, *x_q
        )


class Chain:
    """Consecutive integer layers as `launch_chain` runs them, built once (again only when a
    layer's weights change: the caller's part). Each layer is given as (packed, multiplier,
    folded, residual, act, x_scale, x_zero, q_min, q_max): quant.PackedInt8, quant.fold's
    three vectors, an activation code (one of activations.FUSED) and the static
    quantization of its input. The layers must chain (each one's columns the next one's K)."""

    def __init__(self, layers):
        layers = list(layers)
        self.panels = tuple(layer[0].panels for layer in layers)
        self.n_k = tuple(layer[0].n_k for layer in layers)
        self.x_scales = np.array([layer[5] for layer in layers], np.float32)
        self.narrow = all(is_narrow(layer[7], layer[8]) for layer in layers)
        offsets = np.cumsum([0] + [layer[0].n_cols for layer in layers])
        self.meta = np.array(
            [
                (layer[0].n_cols, 0, layer[4], layer[6], layer[7], layer[8], at, 0)
                for layer, at in zip(layers, offsets)
            ],
            np.int64,
        )
        self.multipliers, self.folded, self.residuals = (
            np.ascontiguousarray(np.concatenate([layer[j] for layer in layers]), dtype)
            for j, dtype in ((1, np.float32), (2, np.int32), (3, np.float32))
        )
        self._schedules = {}

    def schedule(self, n_rows, n_threads):
        """meta with each layer's column group and whether it runs on threads, for n_rows:
        launch's decisions for every layer, made once per batch size."""
        key = (n_rows, n_threads)
        if key not in self._schedules:
            meta = self.meta.copy()
            threads = n_threads if parallel.usable() else 1
            for i, (k, p) in enumerate(zip(self.n_k, self.panels)):
                big = threads > 1 and n_rows * k * p.shape[0] * NR > SERIAL_MAX
                meta[i, 1] = column_group(k, p.shape[0], n_rows, threads if big else 1)
                meta[i, 7] = big
            if len(self._schedules) > 64:  # (batch sizes seen: a bounded memo)
                self._schedules.clear()
            self._schedules[key] = meta
        return self._schedules[key]


def launch_chain(x, chain):
    """The float32 output of `chain`'s layers (a Chain) on x (N, K0) float32, C-contiguous, in
    one compiled call: the same bits as one `launch` per layer. No checks: the caller's."""
    meta = chain.schedule(x.shape[0], _num_threads())
    return chain_driver(kernel_path(chain.narrow))(
        x, chain.panels, meta, chain.x_scales, chain.multipliers, chain.folded, chain.residuals
    )


def column_group(n_k: int, n_panels: int, n_rows: int, n_threads: int) -> int:
    """Panels per task: the most that keep the group's K·NR bytes per panel within
    PANEL_BYTES (L2) and share the work evenly between the threads. prange hands each thread
    one run of consecutive tasks (as many tasks each, ±1), so the group is chosen for the
    least work on the busiest thread (in row × panel units; ties: the larger group), not for
    a task count: 32 panels on 2 threads as 16 + 16, where halving 20 gave 10+10 | 10+2."""
    most = max(1, min(n_panels, PANEL_BYTES // max(1, n_k * NR)))
    if n_threads <= 1:
        return most
    row_blocks = [min(ROWS, n_rows - r) for r in range(0, n_rows, ROWS)] or [0]
    best, best_load = most, None
    for group in range(most, 0, -1):
        widths = [min(group, n_panels - p) for p in range(0, n_panels, group)]
        work = [rows * width for rows in row_blocks for width in widths]
        n = len(work)
        load, start = 0, 0
        for t in range(n_threads):  # consecutive runs of n // T or n // T + 1 tasks
            count = n // n_threads + (1 if t < n % n_threads else 0)
            load = max(load, sum(work[start : start + count]))
            start += count
        if best_load is None or load < best_load:
            best, best_load = group, load
    return best


# ---- packing -----------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def pack(panels, b, trans):
    """panels[p, q, j, t] = uint8(op(B)[4q + t, p·NR + j] + 128), u8 128 (weight 0) past K and
    M; op(B) = B (K, M), or Bᵀ with `trans` (B given as (M, K), quant.pack_weights' layout).
    One pass over B."""
    n_k, n_cols = (b.shape[1], b.shape[0]) if trans else (b.shape[0], b.shape[1])
    for p in prange(panels.shape[0]):
        panel = panels[p]
        for q in range(panels.shape[1]):
            for j in range(NR):
                for t in range(QUAD):
                    panel[q, j, t] = 128
        for j in range(min(NR, n_cols - p * NR)):
            col = p * NR + j
            if trans:  # a row of (M, K): contiguous reads
                src = b[col]
                for k in range(n_k):
                    panel[k // QUAD, j, k % QUAD] = np.uint8(np.int32(src[k]) + 128)
            else:
                for k in range(n_k):
                    panel[k // QUAD, j, k % QUAD] = np.uint8(np.int32(b[k, col]) + 128)
