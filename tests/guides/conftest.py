"""Shared by the ported Keras guides: each test starts from the same seed and fresh names."""

import pytest

import densecore as dc


@pytest.fixture(autouse=True)
def _fresh_session():
    dc.clear_session()
    dc.set_seed(1337)
    yield


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # the guides write files ("my_model.keras", "./ckpt") in the current directory
    monkeypatch.chdir(tmp_path)
