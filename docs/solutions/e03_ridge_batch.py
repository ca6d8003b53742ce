"""E3 (chapter 2): from which batch size is a 4096 × 4096 dense layer compute-bound here?

The forward pass does F = 2NKM + NM FLOPs and moves B = 4(NK + KM + M + NM) bytes (float32:
X, W, b read, Y written), so its arithmetic intensity is I(N) = F/B. For K = M = 4096 the weights
dominate B at small N: I(N) ≈ 2NKM / 4KM = N/2 FLOP/byte, rising to ≈ K/6 for large N. The
roofline's ridge is peak FLOP/s ÷ bandwidth: on the tour's machine ≈ 150–190 GFLOP/s ÷ 18 GB/s,
≈ 9 FLOP/byte (the tour's figure; at 170 GFLOP/s, 9.44 and batch 20).
The layer is compute-bound from the smallest N with I(N) ≥ 9.

Answer: N = 19 (I(18) = 8.92, I(19) = 9.41); batch 1, at 0.5 FLOP/byte, is far below.
"""

from densecore.kernels.flops import arithmetic_intensity

PEAK_GFLOPS, BANDWIDTH_GBS = 162.0, 18.0  # ridge 9 FLOP/byte, as the tour measured


def solve(inputs=4096, outputs=4096):
    ridge = PEAK_GFLOPS / BANDWIDTH_GBS
    batch = 1
    while arithmetic_intensity(batch, inputs, outputs) < ridge:
        batch += 1
    return {"ridge": round(ridge, 2), "batch": batch}


if __name__ == "__main__":
    print(solve())
