"""`python -m benchmarks compare A.json B.json`: per-case time ratios between two runs."""

import json


def _index(path):
    with open(path) as handle:
        data = json.load(handle)
    return {(r["suite"], r["case"], r["op"], r["backend"]): r for r in data["results"] if "median_s" in r}


def compare(path_a, path_b, fail_above=None) -> int:
    """Print B/A median-time ratios (above 1: B is slower) with each run's spread."""
    a, b = _index(path_a), _index(path_b)
    worst = 0.0
    print(
        f"{'suite':>6} {'case':>16} {'op':>9} {'backend':>10} {'A ms':>9} {'B ms':>9} {'B/A':>6}"
        "  spread A / B"
    )
    for key in sorted(set(a) & set(b)):
        ra, rb = a[key], b[key]
        ratio = rb["median_s"] / ra["median_s"]
        worst = max(worst, ratio)
        spread = (
            f"±{(ra['max_s'] - ra['min_s']) / ra['median_s'] / 2:.0%} / "
            f"±{(rb['max_s'] - rb['min_s']) / rb['median_s'] / 2:.0%}"
        )
        print(
            f"{key[0]:>6} {key[1]:>16} {key[2]:>9} {key[3]:>10} {ra['median_s'] * 1e3:>9.3f} "
            f"{rb['median_s'] * 1e3:>9.3f} {ratio:>6.2f}  {spread}"
        )
    missing = set(a) ^ set(b)
    if missing:
        print(f"# {len(missing)} cases in only one file")
    if fail_above is not None and worst > fail_above:
        print(f"# REGRESSION: a case got {worst:.2f}× slower (threshold {fail_above})")
        return 1
    return 0
