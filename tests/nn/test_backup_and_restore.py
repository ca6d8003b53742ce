"""dc.callbacks.BackupAndRestore: a fit killed (SIGKILL) and run again ends with bitwise the
weights of a fit never interrupted. Ported from Keras 3's
keras/src/callbacks/backup_and_restore_test.py, as named in each test."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import densecore as dc

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import densecore as dc

    backup_dir, out, kill_at, save_freq = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    dc.set_backend("reference")  # the same bits as the cpu backend's, without its start-up

    class Kill(dc.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    dc.set_seed(7)
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 4)).astype(np.float32), rng.random((50, 1)).astype(np.float32)
    model = dc.Sequential([dc.layers.Dense(16, activation="relu", input_shape=(4,)),
                           dc.layers.Dropout(0.25), dc.layers.Dense(1)])
    model.compile("adam", "mse", metrics=["mae"])
    stop = dc.callbacks.EarlyStopping(monitor="loss", patience=50)
    callbacks = [dc.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq), stop, Kill()]
    history = model.fit(x, y, batch_size=8, epochs=5, callbacks=callbacks, verbose=0)
    np.savez(out, *model.get_weights())
    with open(out + ".json", "w") as f:
        import json
        json.dump({"loss": history.history["loss"], "best": stop.best, "wait": stop.wait,
                   "iterations": model.optimizer.iterations}, f)
    """
)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run never interrupted: (its weights file, its backup folder's parent)."""
    tmp_path = tmp_path_factory.mktemp("whole")
    whole, out = run(tmp_path, "whole")
    assert whole.returncode == 0, whole.stderr
    return out


def run(tmp_path, name, kill_at=0, save_freq="epoch"):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = str(tmp_path / f"{name}.npz")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "backup"), out, str(kill_at), str(save_freq)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, out


def weights(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


@pytest.mark.parametrize("save_freq, kill_at", [("epoch", 17), (3, 17)])
def test_sigkilled_fit_resumes_bitwise(tmp_path, uninterrupted, save_freq, kill_at):
    """test_best_case_step / test_best_case_epoch, with a real crash: 7 steps an epoch, the
    process killed at step `kill_at` (mid-epoch), then run again to the end. Keras reruns
    the interrupted epoch from its start (its counter reads 17 = 2 + 5 × 3); densecore
    resumes at the backed-up step, so the steps, shuffles, dropout masks, EarlyStopping's
    best and wait, and the weights are those of the run never interrupted."""
    out = uninterrupted
    killed, _ = run(tmp_path, "resumed", kill_at, save_freq)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert os.path.exists(tmp_path / "backup" / "backup.dc")
    resumed, resumed_out = run(tmp_path, "resumed", 0, save_freq)
    assert resumed.returncode == 0, resumed.stderr
    for a, b in zip(weights(out), weights(resumed_out)):
        np.testing.assert_array_equal(a, b)
    full, again = (json.load(open(path + ".json")) for path in (out, resumed_out))
    assert again["iterations"] == full["iterations"] == 35
    assert (again["best"], again["wait"]) == (full["best"], full["wait"])
    done_epochs = (kill_at // 7) if save_freq == "epoch" else (kill_at // save_freq * save_freq) // 7
    assert again["loss"] == full["loss"][done_epochs:]  # the epochs run after the restore
    assert not os.path.exists(tmp_path / "backup")  # delete_checkpoint=True


class Interrupt(dc.callbacks.Callback):
    """Keras's InterruptingCallback."""

    def __init__(self, steps_int=None, epoch_int=None):
        super().__init__()
        self.steps_int, self.epoch_int = steps_int, epoch_int
        self.batch_count = self.epoch_count = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_count += 1
        if self.epoch_int is not None and self.epoch_count == self.epoch_int:
            raise RuntimeError("EpochInterruption")

    def on_batch_end(self, batch, logs=None):
        self.batch_count += 1
        if self.steps_int is not None and self.batch_count == self.steps_int:
            raise RuntimeError("StepsInterruption")


def make_model():
    model = dc.Sequential([dc.layers.Dense(1, input_shape=(3,))])
    model.compile(loss="mse", optimizer="sgd", metrics=["mse"])
    return model


def test_best_case_epoch(tmp_path):
    """backup_and_restore_test.test_best_case_epoch: interrupted after 2 epochs of 3 steps
    (counter 6), a fit of 5 epochs runs the last 3 (counter 15); the optimizer's
    iterations stand for Keras's CanaryLayer counter."""
    backup_dir = tmp_path / "subdir"
    model = make_model()
    cbk = dc.callbacks.BackupAndRestore(backup_dir=backup_dir, save_freq="epoch")
    x, y = np.random.random((10, 3)), np.random.random((10, 1))
    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=4, callbacks=[cbk, Interrupt(epoch_int=2)], epochs=6, verbose=0)
    assert cbk._current_epoch == 2 and os.path.exists(backup_dir)
    assert model.optimizer.iterations == 6
    hist = model.fit(x, y, batch_size=4, callbacks=[cbk], epochs=5, verbose=0)
    assert cbk._current_epoch == 5 and hist.epoch[-1] == 4
    assert model.optimizer.iterations == 5 * 3


def test_best_case_step(tmp_path):
    """backup_and_restore_test.test_best_case_step: interrupted at the 2nd step with a
    backup every step (counter 2, _last_batch_seen 1 in Keras: it counts from 0). Keras
    then reruns epoch 0 (counter 17); densecore resumes at its 3rd step (counter 15)."""
    backup_dir = tmp_path / "subdir"
    model = make_model()
    cbk = dc.callbacks.BackupAndRestore(backup_dir, save_freq=1)
    x, y = np.random.random((10, 3)), np.random.random((10, 1))
    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=4, callbacks=[cbk, Interrupt(steps_int=2)], epochs=2, verbose=0)
    assert cbk._current_epoch == 0 and cbk._last_batch_seen == 2
    assert model.optimizer.iterations == 2
    hist = model.fit(x, y, batch_size=4, callbacks=[cbk], epochs=5, verbose=0)
    assert cbk._current_epoch == 5 and hist.epoch == [0, 1, 2, 3, 4]
    assert model.optimizer.iterations == 15


def test_model_deleted_case_epoch(tmp_path):
    """backup_and_restore_test.test_model_deleted_case_epoch: a fit that ends normally
    removes the backup; delete_checkpoint=False keeps it."""
    backup_dir = tmp_path / "subdir"
    x, y = np.random.random((10, 3)), np.random.random((10, 1))
    make_model().fit(
        x, y, batch_size=4, callbacks=[dc.callbacks.BackupAndRestore(backup_dir)], epochs=2, verbose=0
    )
    assert not os.path.exists(backup_dir)
    keep = dc.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
    make_model().fit(x, y, batch_size=4, callbacks=[keep], epochs=2, verbose=0)
    assert os.path.exists(backup_dir / "backup.dc")


def test_save_freq_unknown_error_and_empty_dir():
    """test_save_freq_unknown_error, test_backup_dir_empty_error, test_backup_dir_none_error."""
    for save_freq in ("batch", 0.15, 0, True):
        with pytest.raises(ValueError, match="Invalid value"):
            dc.callbacks.BackupAndRestore(backup_dir="backup_dir", save_freq=save_freq)
    for backup_dir in ("", None):
        with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
            dc.callbacks.BackupAndRestore(backup_dir=backup_dir, save_freq="epoch")


def test_another_models_backup_is_refused_before_any_work(tmp_path):
    """A backup_dir holding another model's backup: ValueError naming the file, no step."""
    x, y = np.random.random((10, 3)), np.random.random((10, 1))
    keep = dc.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)
    make_model().fit(x, y, callbacks=[keep], verbose=0)
    other = dc.Sequential([dc.layers.Dense(4, input_shape=(3,)), dc.layers.Dense(1)])
    other.compile("sgd", "mse")
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"backup\.dc.* holds the backup of another model"):
        other.fit(x, y, callbacks=[dc.callbacks.BackupAndRestore(tmp_path)], verbose=0)
    assert other.optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))
    (tmp_path / "backup.dc").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"backup\.dc.*(is damaged|not a zip)"):
        make_model().fit(x, y, callbacks=[dc.callbacks.BackupAndRestore(tmp_path)], verbose=0)
