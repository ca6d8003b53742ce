"""docs/figures.py's figures are committed, every image README and the tour show exists, and the
script renders them (where matplotlib is installed)."""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _figures_module():
    spec = importlib.util.spec_from_file_location("docs_figures", DOCS / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports only the standard library at the top
    return module


def _image_links(markdown: pathlib.Path):
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown.read_text())


def test_every_declared_figure_is_committed():
    for name in _figures_module().FIGURES:
        path = DOCS / "figures" / name
        assert path.is_file(), f"{path} is missing: run python docs/figures.py"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"


@pytest.mark.parametrize("page", ["README.md", "docs/tour.md"])
def test_image_links_point_at_existing_files(page):
    markdown = ROOT / page
    links = _image_links(markdown)
    assert links, f"{page} shows no figure"
    for link in links:
        assert not link.startswith(("/", "http")), f"{page}: {link} is not a relative path"
        assert (markdown.parent / link).is_file(), f"{page}: {link} points at no file"


def test_every_committed_figure_is_declared_and_shown():
    declared = set(_figures_module().FIGURES)
    committed = {path.name for path in (DOCS / "figures").glob("*.png")}
    assert committed == declared, "docs/figures/ holds exactly the script's figures"
    shown = {
        pathlib.PurePath(link).name
        for page in ("README.md", "docs/tour.md")
        for link in _image_links(ROOT / page)
    }
    assert declared <= shown, f"figures shown nowhere: {sorted(declared - shown)}"


def test_the_script_renders_every_figure(tmp_path):
    pytest.importorskip("matplotlib")
    figures = _figures_module()
    figures.main(["--out", str(tmp_path), "--quick"])
    for name in figures.FIGURES:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
