"""The benchmark tool runs (tiny shapes) and compares; no timing is asserted here."""

import json
import subprocess
import sys


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_quick_run_writes_json_and_compare_reads_it(tmp_path):
    out = tmp_path / "a.json"
    result = run("dense", "lowrank", "int8", "train", "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "GFLOP/s" in result.stdout and "INVALID" not in result.stdout
    data = json.loads(out.read_text())
    assert {"machine", "peaks", "results"} <= set(data)
    suites = {r["suite"] for r in data["results"]}
    assert suites == {"dense", "lowrank", "int8", "int8_model", "train"}
    assert all(r["median_s"] > 0 for r in data["results"] if "median_s" in r)
    slower = json.loads(out.read_text())
    for r in slower["results"]:
        if "median_s" in r:
            r["median_s"] *= 3
    (tmp_path / "b.json").write_text(json.dumps(slower))
    same = run("compare", str(out), str(out), "--fail-above", "1.1")
    assert same.returncode == 0 and "B/A" in same.stdout
    regressed = run("compare", str(out), str(tmp_path / "b.json"), "--fail-above", "1.5")
    assert regressed.returncode == 1 and "REGRESSION" in regressed.stdout


def test_bad_shapes_are_refused():
    result = run("dense", "--shapes", "12x0x3", "--quick")
    assert result.returncode != 0 and "NxKxM" in result.stderr


def test_load_benchmark_runs_every_cpu_kernel_in_a_new_process():
    from benchmarks import load

    assert load.time_new_process() > 0
