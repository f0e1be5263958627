"""Served models (issue 16): `flywheel serve` runs `transformers serve` on 127.0.0.1 with a tiny model, and
the pool client (lakehouse/serving.py) asks it for candidates. Two candidates are requested at once; a
model that is down, slow or killed mid-request ends in a ServingError naming it and why, while the other
candidate still arrives."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading

import pytest

from lakehouse.errors import ConfigError
from lakehouse.serving import ModelPool, PoolModel, Reply, ServingError, candidates, chat, load_pool, system_message
from tests.helpers.cli import FLYWHEEL
from tests.helpers.served import entry, free_port

pytestmark = pytest.mark.slow
CONVERSATION = [{"role": "user", "content": "hello, how are you today?"}]


def test_two_candidates_come_back_in_order_from_the_served_model(server):
    _, port, model = server
    pool = ModelPool(models=[entry("warm", port, model, temperature=1.0), entry("cold", port, model, temperature=0.0)])
    replies = candidates(pool, ["warm", "cold"], CONVERSATION, seeds=[1, 2])
    assert [type(r) for r in replies] == [Reply, Reply], replies
    assert [r.model for r in replies] == ["warm", "cold"]
    assert all(isinstance(r.text, str) and r.seconds > 0 for r in replies)


def test_a_model_that_is_down_fails_alone_with_a_reason_naming_it(server):
    _, port, model = server
    dead = free_port()
    pool = ModelPool(models=[entry("alive", port, model), entry("down", dead, model, retries=1)])
    alive, down = candidates(pool, ["alive", "down"], CONVERSATION)
    assert isinstance(alive, Reply)
    assert isinstance(down, ServingError) and str(down).startswith(f"down: cannot reach http://127.0.0.1:{dead}/v1")


def test_a_model_slower_than_its_timeout_fails_alone_without_holding_the_other(server):
    _, port, model = server
    silent = socket.socket()  # accepts the connection, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    slow_port = silent.getsockname()[1]
    try:
        pool = ModelPool(models=[entry("alive", port, model), entry("slow", slow_port, model, timeout_s=1.0)])
        alive, slow = candidates(pool, ["alive", "slow"], CONVERSATION)
    finally:
        silent.close()
    assert isinstance(alive, Reply)
    assert isinstance(slow, ServingError) and "no reply from" in str(slow) and "within 1s" in str(slow)


def test_generate_takes_its_candidates_from_a_pool_model_and_counts_failed_requests(server, tmp_path):
    from lakehouse.lake import Lake
    from train import generate, synthetic

    _, port, model = server
    lake = Lake(tmp_path / "lake")
    prompts = synthetic.write_all(lake, rows=24)["prompt"].ref
    settings = generate.SamplingSettings(n=2, max_new_tokens=6, temperature=1.0)
    served = entry("tiny-served", port, model)
    result = generate.run(lake, "", prompts, settings, limit=3, served=served)
    rows = generate.candidates(lake, result.generation_id).to_pylist()
    assert result.candidates == len(rows) == 6 and not result.dropped
    assert {r["model"] for r in rows} == {f"pool:tiny-served@http://127.0.0.1:{port}/v1"}
    assert generate.generation(lake, result.generation_id)["device"] == "served"

    down = entry("down", free_port(), model, retries=0)
    failed = generate.run(lake, "", prompts, settings, limit=3, served=down)
    assert failed.candidates == 0 and failed.dropped == {"endpoint_error": 6}


def test_a_server_killed_mid_request_gives_a_clear_error(server):
    process, port, model = server
    slow = entry("victim", port, model, max_tokens=4000, retries=0)
    threading.Timer(1.0, lambda: os.kill(process.pid, signal.SIGKILL)).start()
    with pytest.raises(ServingError, match=r"^victim: (cannot reach|.*answered)"):
        chat(slow, CONVERSATION)


def test_the_system_prompt_is_filled_from_the_character_card():
    model = PoolModel(name="m", endpoint="http://x/v1", model="m", system_prompt="You are {name}. {instructions}")
    card = {"name": "Tank", "description": "a baker", "instructions": "Be kind."}
    assert system_message(model, card) == [{"role": "system", "content": "You are Tank. Be kind."}]
    assert system_message(model.model_copy(update={"system_prompt": None}), card) == []


def test_a_pool_file_with_a_bad_key_is_refused_naming_the_key(tmp_path):
    path = tmp_path / "pool.yaml"
    path.write_text("models:\n  - name: a\n    endpoint: http://127.0.0.1:1/v1\n    model: m\n    temprature: 1\n")
    with pytest.raises(ConfigError, match=r"pool\.yaml: models\.0\.temprature: unknown key"):
        load_pool(path)
    path.write_text("models:\n  - {name: a, endpoint: 127.0.0.1:1, model: m}\n")
    with pytest.raises(ConfigError, match="endpoint: Value error, must start with http"):
        load_pool(path)


def test_serve_refuses_a_directory_that_is_not_a_model(tmp_path):
    done = subprocess.run([*FLYWHEEL, "serve", "--model", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "is not a Hugging Face model directory" in done.stderr and "Traceback" not in done.stderr
