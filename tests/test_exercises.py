"""Every solution under docs/solutions/ runs and gives the answer the tour's exercise states, and
every exercise the tour links has its solution file."""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "docs" / "solutions"


def _solve(name):
    spec = importlib.util.spec_from_file_location(f"solution_{name}", SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.solve()


def _check_e08(answer):
    assert answer[3]["shares"] == [3, 3, 4]
    assert answer[3]["average_error"] > 1e-3 and answer[3]["weighted_error"] < 1e-12
    assert answer[2]["average_error"] < 1e-12 and answer[5]["average_error"] < 1e-12


def _check_e09(answer):
    assert answer["dx_equals_dy_at_zero"]
    assert 0.5 < answer["residual_ratio"] < 2 and answer["plain_ratio"] < 1e-3


EXPECTED = {
    "e01_softplus_backward": lambda a: a == {"gradcheck": True},
    "e02_softmax_gradient": lambda a: a["max_difference"] < 1e-12,
    "e03_ridge_batch": lambda a: a == {"ridge": 9.0, "batch": 19},
    "e04_break_even_rank": lambda a: a == {"largest_saving_rank": 192, "first_rank_saving_nothing": 193},
    "e05_whitening": lambda a: all(a.values()),
    "e06_accumulator_bound": lambda a: (
        a
        == {
            "int8_int8_int32": 131071,
            "library_max_k": 131071,
            "int8_int4_int32": 2097151,
            "int16_int16_int64": 2**33 - 1,
        }
    ),
    "e07_vpmaddubsw": lambda a: a == {"bits": 7, "pair_sum_at_8_bits": 65280, "pair_sum_at_7_bits": 32512},
    "e08_uneven_shares": lambda a: _check_e08(a) is None,
    "e09_residual_gradient": lambda a: _check_e09(a) is None,
    "e10_affine_quantization": lambda a: a["scale"] == 4 / 255 and (a["zero"], a["q"]) == (64, 96),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_solution_gives_the_stated_answer(name):
    assert EXPECTED[name](_solve(name)), name


def test_every_solution_is_checked_and_linked_from_the_tour():
    files = {path.stem for path in SOLUTIONS.glob("e*.py")}
    assert files == set(EXPECTED)
    assert 8 <= len(files) <= 12
    tour = (ROOT / "docs" / "tour.md").read_text()
    linked = set(re.findall(r"\(solutions/(e\d\d_\w+)\.py\)", tour))
    assert linked == files
