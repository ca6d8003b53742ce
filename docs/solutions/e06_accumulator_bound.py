"""E6 (chapter 9): the largest K for which an integer dot product cannot overflow its accumulator.

Every product is at most P = max|a| · max|b| in magnitude, so a K-term sum is at most K · P, and
it fits a signed accumulator of B bits for every input exactly when K ≤ (2^(B−1) − 1) // P.

    int8 × int8 into int32:    P = 128 · 128 = 2¹⁴   K ≤ (2³¹ − 1) // 2¹⁴ = 131071  (checks.MAX_K)
    int8 × int4 into int32:    P = 128 · 8 = 2¹⁰     K ≤ (2³¹ − 1) // 2¹⁰ = 2097151
    int16 × int16 into int64:  P = 2³⁰               K ≤ (2⁶³ − 1) // 2³⁰ = 8589934591 = 2³³ − 1

Answer: 131071, 2097151, 8589934591.
"""

from densecore.kernels import checks


def bound(a_bits, b_bits, acc_bits):
    return (2 ** (acc_bits - 1) - 1) // (2 ** (a_bits - 1) * 2 ** (b_bits - 1))


def solve():
    return {
        "int8_int8_int32": bound(8, 8, 32),
        "library_max_k": checks.MAX_K,
        "int8_int4_int32": bound(8, 4, 32),
        "int16_int16_int64": bound(16, 16, 64),
    }


if __name__ == "__main__":
    print(solve())
