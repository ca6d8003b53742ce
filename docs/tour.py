"""Run docs/tour.md's Python blocks and check, or rewrite, the printed output written under them.

    python -m docs.tour             # run the tour; list every output that drifted (exit status 1)
    python -m docs.tour --update    # run the tour; rewrite each checked ```text block from this run

Every ```python block runs, in order, in one namespace, in a temporary directory. A ```text
block that directly follows a python block (only blank lines between) is what that block
prints, compared by the mode its fence names:

    ```text               exact: every line as printed (trailing spaces ignored)
    ```text tol=0.01      the same words, each number within ±0.01 of the one written (runs of
                          spaces count as one): for results of float32 training, whose last
                          digits can move with the CPU's vector width
    ```text shape-only    the same words, every number replaced by #: timings

A python block followed by no text block must print nothing (so nothing printed goes unchecked).
"""

import argparse
import contextlib
import io
import os
import pathlib
import re
import sys
import tempfile

TOUR = pathlib.Path(__file__).resolve().parent / "tour.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
NUMBER = re.compile(r"([-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)")


def blocks(text):
    """[(python source, text match or None)] for every python block of the markdown `text`."""
    fences = list(FENCE.finditer(text))
    pairs = []
    for i, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        after = fences[i + 1] if i + 1 < len(fences) else None
        if after is not None and after.group(1) == "text" and not text[fence.end() : after.start()].strip():
            pairs.append((fence.group(3), after))
        else:
            pairs.append((fence.group(3), None))
    return pairs


def mode(info):
    """('exact', None), ('tol', float) or ('shape', None) from a text fence's info string."""
    info = info.strip()
    if not info:
        return "exact", None
    if info == "shape-only":
        return "shape", None
    match = re.fullmatch(r"tol=([0-9.eE+-]+)", info)
    if match:
        return "tol", float(match.group(1))
    raise ValueError(f"unknown text-block mode {info!r}: expected '', 'tol=<number>' or 'shape-only'")


def _shape(line):
    return " ".join(NUMBER.sub("#", line).split())


def _line_matches(expected, actual, how, tol):
    if how == "exact":
        return expected.rstrip() == actual.rstrip()
    if how == "shape":
        return _shape(expected) == _shape(actual)
    want, got = NUMBER.split(expected), NUMBER.split(actual)
    if len(want) != len(got):
        return False
    for index, (a, b) in enumerate(zip(want, got)):
        if index % 2 == 0:  # text between the numbers
            if " ".join(a.split()) != " ".join(b.split()):
                return False
        elif abs(float(a.replace(",", "")) - float(b.replace(",", ""))) > tol + 1e-12:
            return False
    return True


def compare(expected, actual, info=""):
    """The lines on which `actual` (printed) differs from `expected` (written); [] when it matches."""
    how, tol = mode(info)
    want, got = expected.rstrip("\n").split("\n"), actual.rstrip("\n").split("\n")
    problems = []
    for number in range(max(len(want), len(got))):
        a = want[number] if number < len(want) else "<no line>"
        b = got[number] if number < len(got) else "<no line>"
        if number >= len(want) or number >= len(got) or not _line_matches(a, b, how, tol):
            problems.append(f"  line {number + 1}: written {a!r}\n          printed {b!r}")
    return problems


def run(text=None):
    """Run every python block, as a new reader would (layer names start afresh, as in a new
    process: `dc.clear_session()`); [(source, text match or None, what it printed)]."""
    import densecore as dc

    dc.clear_session()
    text = TOUR.read_text() if text is None else text
    namespace, results = {"__name__": "__tour__"}, []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            for index, (source, written) in enumerate(blocks(text)):
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    exec(compile(source, f"docs/tour.md block {index}", "exec"), namespace)
                results.append((source, written, printed.getvalue()))
        finally:
            os.chdir(cwd)
    return results


def check(results):
    """A report of every block whose output drifted from what the tour says; '' when none."""
    report = []
    for index, (source, written, printed) in enumerate(results):
        first = source.strip().split("\n")[0]
        if written is None:
            if printed.strip():
                report.append(f"block {index} ({first}) prints but has no ```text block:\n{printed}")
            continue
        problems = compare(written.group(3), printed, written.group(2))
        if problems:
            report.append(f"block {index} ({first}), ```text{written.group(2)}:\n" + "\n".join(problems))
    return "\n".join(report)


def update(text, results):
    """`text` with every checked text block replaced by what its python block printed."""
    pieces, last = [], 0
    for _source, written, printed in results:
        if written is None:
            continue
        pieces.append(text[last : written.start(3)])
        pieces.append(printed.rstrip("\n") + "\n")
        last = written.end(3)
    pieces.append(text[last:])
    return "".join(pieces)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the text blocks from this run")
    args = parser.parse_args(argv)
    text = TOUR.read_text()
    results = run(text)
    if args.update:
        new = update(text, results)
        if new != text:
            TOUR.write_text(new)
        print("docs/tour.md: " + ("text blocks rewritten" if new != text else "already up to date"))
        return 0
    report = check(results)
    print(report or "docs/tour.md: every printed output matches")
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
