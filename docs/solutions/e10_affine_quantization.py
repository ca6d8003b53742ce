"""E10 (chapter 6): scale and zero point of an asymmetric uint8 quantizer for the range [−1, 3].

r ≈ s (q − z), q in [0, 255]. The range's ends must map to the grid's ends: s = (r_max − r_min) /
(q_max − q_min) = 4/255, and z = q_min − round(r_min / s) = −round(−63.75) = 64 (an integer, so
r = 0 is exactly representable: q = 64 — padding and relu zeros lose nothing). Then
q(0.5) = clip(round(0.5/s) + z) = round(31.875) + 64 = 96, which dequantizes to s · 32 = 0.50196:
an error of 0.002 ≤ s/2.

Answer: s = 4/255, z = 64, q(0.5) = 96.
"""

import numpy as np


def affine(r_min, r_max, q_min=0, q_max=255):
    scale = (r_max - r_min) / (q_max - q_min)
    return scale, int(q_min - np.round(r_min / scale))


def quantize(r, scale, zero, q_min=0, q_max=255):
    return int(np.clip(np.round(r / scale) + zero, q_min, q_max))


def solve():
    scale, zero = affine(-1.0, 3.0)
    q = quantize(0.5, scale, zero)
    return {"scale": scale, "zero": zero, "q": q, "error": abs(scale * (q - zero) - 0.5)}


if __name__ == "__main__":
    print(solve())
