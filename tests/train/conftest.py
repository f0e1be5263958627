"""Fixtures of the training tests: one tiny model served on 127.0.0.1 per module that asks for it."""

from __future__ import annotations

import pytest

from tests.helpers.served import build_tiny_model, start_server, stop


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-served"))


@pytest.fixture(scope="module")
def server(tiny_model):
    """`flywheel serve`'s server on a free port: (process, port, model directory)."""
    process, port = start_server(tiny_model)
    yield process, port, tiny_model
    stop(process)
