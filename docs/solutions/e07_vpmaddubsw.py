"""E7 (chapter 9): with how many bits of activation would `vpmaddubsw` be exact?

`vpmaddubsw` multiplies unsigned bytes u by signed bytes s and adds adjacent pairs into a
*saturating* int16 (max 32767). With u up to 2^k − 1 and s down to −128, the largest pair sum
is 2 · (2^k − 1) · 128. For k = 8 (the kernel's b + 128): 65280 > 32767, so it saturates. For
k = 7: 2 · 127 · 128 = 32512 ≤ 32767: exact — fbgemm's "reduced range" activations.

Answer: 7 bits.
"""


def largest_pair_sum(unsigned_bits):
    return 2 * (2**unsigned_bits - 1) * 128


def solve():
    bits = max(k for k in range(1, 9) if largest_pair_sum(k) <= 32767)
    return {
        "bits": bits,
        "pair_sum_at_8_bits": largest_pair_sum(8),
        "pair_sum_at_7_bits": largest_pair_sum(7),
    }


if __name__ == "__main__":
    print(solve())
