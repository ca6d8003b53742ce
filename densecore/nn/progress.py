"""A Keras-style progress bar, written out rather than a dependency: it is short, and it
prints at most ~20 times a second however fast the steps are.

verbose=1 on a terminal:  `12/18 ━━━━━━━━━━━━━━╸       ETA 12ms - loss: 0.3100 - accuracy: 0.9100`
verbose=1 elsewhere: that line once, when the epoch ends.
verbose=2: one line per epoch without the bar, as Keras: `18/18 - 0s - 2ms/step - loss: 0.3100`.
"""

import sys
import time

_WIDTH = 30
_MIN_INTERVAL = 0.05  # seconds between redraws


def format_logs(logs: dict) -> str:
    """'loss: 0.1234 - accuracy: 0.9000' from a logs dict."""
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}us"
    return f"{seconds * 1e3:.0f}ms" if seconds < 1 else f"{seconds:.0f}s"


class Progbar:
    """Draw the progress of one epoch of `target` steps.

    Args:
        target: the number of steps.
        verbose: 1 for a live bar (when the stream is a terminal), 2 for one line at the end.
        stream: where to write (default sys.stdout).
    """

    def __init__(self, target: int, verbose: int = 1, stream=None):
        self.target, self.stream, self.verbose = target, stream or sys.stdout, verbose
        self.live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self.start = self.last_draw = time.perf_counter()

    def update(self, step: int, logs: dict, final: bool = False) -> None:
        """Redraw for `step` of `target` with `logs` (at most ~20 times a second; always when final)."""
        now = time.perf_counter()
        if not final and (not self.live or now - self.last_draw < _MIN_INTERVAL):
            return
        self.last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(step, 1)
        if final:
            timing = f"{_duration(elapsed)} {_duration(per_step)}/step"
        else:
            timing = f"ETA {_duration(per_step * (self.target - step))}"
        if self.verbose == 2:
            line = f"{step}/{self.target} - {elapsed:.0f}s - {_duration(per_step)}/step"
        else:
            filled = int(_WIDTH * step / max(self.target, 1))
            bar = "━" * filled + ("╸" if filled < _WIDTH else "") + " " * max(_WIDTH - filled - 1, 0)
            line = f"{step}/{self.target} {bar} {timing}"
        if logs:
            line += " - " + format_logs(logs)
        if self.live:
            self.stream.write("\r" + line + ("\n" if final else ""))
        elif final:
            self.stream.write(line + "\n")
        self.stream.flush()
