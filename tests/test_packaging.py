"""The built wheel installs `densecore` alone at the top of site-packages (no `kernels` or
`benchmarks` of ours shadowing other projects' packages), and the documented commands work from
that install; the architecture's import contract holds; the old module paths still import."""

import importlib
import pathlib
import subprocess
import sys
import warnings
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout (as pip builds it for users), installed into a folder."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0 and "network" in build.stderr.lower():
        pytest.skip(f"the wheel's build backend could not be fetched: {build.stderr[-300:]}")
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = out.glob("densecore-*.whl")
    target = out / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    return wheel, target


def test_the_wheel_installs_densecore_alone(installed):
    wheel, _ = installed
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in top if not t.endswith(".dist-info")} == {"densecore"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "densecore/kernels/reference.py" in names and "densecore/benchmarks/__main__.py" in names
    assert "densecore/datasets/digits.npz" in names


def test_documented_commands_work_from_the_installed_wheel(installed, tmp_path):
    _, target = installed
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run(*args):
        result = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    code = (
        "import densecore, numpy as np; from densecore import kernels; "
        "assert densecore.__file__.startswith(%r); "
        "print(kernels.get('reference').dense_forward(np.ones((2, 3)), np.ones((3, 1)), None, 'relu')"
        ".ravel())"
    ) % str(target)
    assert run("-c", code).strip() == "[3. 3.]"
    assert "dense" in run("-m", "densecore.benchmarks", "--help")


def test_packages_import_only_downward():
    """The contracts in pyproject.toml ([tool.importlinter]), imports inside functions included."""
    result = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("old", ["tensor", "backend", "models", "training", "step_buffers"])
def test_internal_modules_of_the_flat_layout_still_import_with_a_warning(old):
    sys.modules.pop(f"densecore.{old}", None)
    with pytest.warns(DeprecationWarning, match=f"densecore.{old} moved"):
        module = importlib.import_module(f"densecore.{old}")
    assert module.__name__.startswith(("densecore.engine.", "densecore.nn."))


def test_public_namespaces_import_by_their_old_paths_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from densecore.layers import Dense  # noqa: F401
        from densecore.quantization import QATDense  # noqa: F401

        import densecore as dc

    assert dc.layers.Dense is Dense and dc.quantization.QATDense is QATDense
