"""Saving is atomic and tidy: the saved file keeps the mode of the one it replaces (or the
umask's default), a save killed midway leaves the old file and a temporary that the next
save to the same path removes, and an OSError names the target, not the temporary."""

import errno
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc
from densecore.nn import saving

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and signals as POSIX has them")


def model():
    m = dc.Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


def leftovers(directory) -> list:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ---- item 13: the mode of the saved file ------------------------------------------------------------
@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umasks_default_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        model().save(tmp_path / "m.dc")
        model().save_weights(tmp_path / "w.dc")
    finally:
        os.umask(previous)
    for name in ("m.dc", "w.dc"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_a_replaced_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "m.dc"
    model().save(path)
    os.chmod(path, mode)
    previous = os.umask(0o077)  # a umask that would give another mode to a new file
    try:
        model().save(path)
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode
    assert dc.load_model(path).count_params() == 23


# ---- item 16: temporaries named after the target; stale ones removed ------------------------------
KILLED_SAVE = """
import os, sys, densecore as dc
model = dc.Sequential([dc.layers.Dense(3, input_shape=(4,)), dc.layers.Dense(2)])
os.fsync = lambda fd: os.kill(os.getpid(), 9)  # SIGKILL once the temporary is written
model.save(sys.argv[1])
"""


@posix_only
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "m.dc"
    model().save(path)
    before = path.read_bytes()
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    stale = leftovers(tmp_path)
    assert len(stale) == 1 and stale[0].startswith(".m.dc.densecore-"), stale  # named after its target
    assert path.read_bytes() == before  # the old file is intact
    model().save(path)  # the next save to that path removes it
    assert leftovers(tmp_path) == []
    assert dc.load_model(path).predict(np.ones((1, 4), np.float32)).shape == (1, 2)


def fake_temporary(directory, target, pid, age_s=0.0):
    name = f"{saving._temporary_prefix(target)}{pid}-{saving._host()}-{os.urandom(4).hex()}.tmp"
    path = directory / name
    path.write_bytes(b"partial")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return name


@posix_only
def test_only_temporaries_of_dead_processes_or_long_untouched_are_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead = int(finished.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [
            fake_temporary(tmp_path, "m.dc", alive.pid),  # a save in progress in another process
            fake_temporary(tmp_path, "m.dc", os.getpid()),  # one in progress in this process
            fake_temporary(tmp_path, "other.dc", dead),  # another target's: not this save's business
        ]
        remove = [
            fake_temporary(tmp_path, "m.dc", dead),
            fake_temporary(tmp_path, "m.dc", alive.pid, age_s=2 * saving.STALE_AFTER_S),
        ]
        model().save(tmp_path / "m.dc")
    finally:
        alive.kill()
        alive.wait()
    assert leftovers(tmp_path) == sorted(keep)
    assert not set(remove) & set(leftovers(tmp_path))


@pytest.mark.parametrize("failing", ["replace", "fsync", "chmod"])
def test_an_oserror_names_the_target_and_keeps_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "m.dc"
    model().save(path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(args[0]) + ".tmp")

    monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(OSError) as info:
        model().save(path)
    message = str(info.value)
    assert str(path) in message and ".tmp" not in message, message
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_the_temporary_of_a_long_name_fits_in_a_file_name(tmp_path):
    path = tmp_path / ("x" * 240 + ".dc")
    model().save(path)
    assert dc.load_model(path).count_params() == 23
