"""docs/tour.md: every Python block runs, in order, in one namespace, and prints what the ```text
block under it says (docs/tour.py's rules: exact, `tol=<x>` or `shape-only`); its links exist."""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOUR_MD = ROOT / "docs" / "tour.md"


def _tour_module():
    spec = importlib.util.spec_from_file_location("docs_tour", ROOT / "docs" / "tour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tour = _tour_module()


@pytest.fixture(scope="module")
def results():
    return tour.run()


def test_every_printed_output_matches_the_tour(results):
    report = tour.check(results)
    assert not report, "docs/tour.md drifted from the code; run python -m docs.tour --update\n" + report


def test_the_tour_checks_output_somewhere_in_every_mode(results):
    modes = {tour.mode(written.group(2))[0] for _, written, _ in results if written is not None}
    assert modes == {"exact", "tol", "shape"}
    assert sum(written is not None for _, written, _ in results) >= 15


def test_update_reproduces_the_committed_tour(results):
    text = TOUR_MD.read_text()
    assert tour.blocks(text) and tour.update(text, results).count("```") == text.count("```")


@pytest.mark.parametrize(
    "written, printed, info, drifted",
    [
        ("test accuracy: 0.9646", "test accuracy: 0.9646", "", False),
        ("test accuracy: 0.9646", "test accuracy: 0.9647", "", True),
        ("test accuracy: 0.9646", "test accuracy: 0.9700", "tol=0.01", False),
        ("test accuracy: 0.9646", "test accuracy: 0.9800", "tol=0.01", True),
        ("test accuracy: 0.9646", "test loss: 0.9646", "tol=0.01", True),
        ("9,610 parameters", "9,611 parameters", "tol=0.01", True),
        ("      cpu:   93.8 GFLOP/s", "      cpu:  193.8 GFLOP/s", "shape-only", False),
        ("      cpu:   93.8 GFLOP/s", "      cpu:   93.8 GB/s", "shape-only", True),
        ("a\nb", "a", "", True),
        ("a", "a\nb", "", True),
    ],
)
def test_compare_rules(written, printed, info, drifted):
    assert bool(tour.compare(written, printed, info)) == drifted


def test_an_unknown_mode_is_an_error():
    with pytest.raises(ValueError):
        tour.mode("tolerance 0.1")


def test_tour_links_point_at_files_that_exist():
    text = TOUR_MD.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for target in links:
        if target.startswith("http"):
            continue
        assert (TOUR_MD.parent / target).exists(), target


def test_the_notebook_is_in_sync_with_the_tour():
    jupytext = pytest.importorskip("jupytext")
    notebook = ROOT / "docs" / "tour.ipynb"
    assert notebook.is_file(), "docs/tour.ipynb is missing: jupytext --to ipynb docs/tour.md"
    expected = jupytext.reads(TOUR_MD.read_text(), fmt="md")
    committed = jupytext.read(notebook)
    strip = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert strip(committed) == strip(expected), "regenerate: jupytext --to ipynb docs/tour.md"


def test_the_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(ROOT / "docs" / "tour.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
