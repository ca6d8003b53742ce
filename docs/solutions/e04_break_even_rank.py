"""E4 (chapter 8): the rank at which factorising a K × M layer stops saving parameters.

The factors U_r (K × r) and V_r (r × M) hold r(K + M) numbers against KM for W (the bias, M
numbers, is kept either way). Factorising saves parameters only while r(K + M) < KM, i.e.
r < KM / (K + M). For 784 × 256: 200704 / 1040 = 192.98, so ranks up to 192 save (at 192:
199680 against 200704, 1024 fewer) and from 193 on the factors cost more than W. The FLOPs
follow the same rule: 2r(K + M) against 2KM multiply-adds per sample.

Answer: 192 is the largest rank that saves; 193 saves nothing.
"""


def break_even(inputs, outputs):
    """The largest rank whose factors hold fewer numbers than the kernel."""
    return (inputs * outputs - 1) // (inputs + outputs)


def solve(inputs=784, outputs=256):
    r = break_even(inputs, outputs)
    assert r * (inputs + outputs) < inputs * outputs <= (r + 1) * (inputs + outputs)
    return {"largest_saving_rank": r, "first_rank_saving_nothing": r + 1}


if __name__ == "__main__":
    print(solve())
