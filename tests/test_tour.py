"""Every Python block of docs/tour.md runs, in order, in one namespace."""

import pathlib
import re

TOUR = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "tour.md").read_text()


def test_tour_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", TOUR, re.S)):
        exec(compile(block, f"docs/tour.md block {index}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "True" in out and "int8 accuracy" in out


def test_tour_links_point_at_files_that_exist():
    root = pathlib.Path(__file__).resolve().parent.parent
    for target in re.findall(r"\]\(\.\./([^)]+)\)", TOUR):
        assert (root / target).is_file(), target
