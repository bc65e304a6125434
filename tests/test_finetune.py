"""Long-term knowledge: SFT data export from the real recall stage, and LoRA training on CPU."""

import json

import numpy as np
import pytest
from tests.conftest import TINY_CONTENTS

from llm4tag.finetune import export_sft
from llm4tag.project import Project


@pytest.fixture
def project(tiny_project):
    return tiny_project


def test_export_writes_selection_and_judgement_examples(project, tmp_path):
    from llm4tag.corpus import Document

    docs = [Document(**c) for c in TINY_CONTENTS]
    report = export_sft(project, docs, tmp_path / "sft", negatives_per_document=1)
    selection = [json.loads(line) for line in (tmp_path / "sft" / "selection.jsonl").read_text().splitlines()]
    judgement = [json.loads(line) for line in (tmp_path / "sft" / "judgement.jsonl").read_text().splitlines()]
    assert report.selection == len(selection) == len(docs)
    roles = [m["role"] for m in selection[0]["messages"]]
    assert roles == ["system", "user", "assistant"]
    # the content never sees itself as a retrieved example (no leak of its own annotation)
    first_user = selection[0]["messages"][1]["content"]
    assert first_user.count(TINY_CONTENTS[0]["text"]) == 1
    answers = {row["messages"][-1]["content"] for row in judgement}
    assert answers == {"Yes", "No"}
    gold_yes = sum(len(c["tags"]) for c in TINY_CONTENTS)
    assert sum(row["messages"][-1]["content"] == "Yes" for row in judgement) == gold_yes


def make_tiny_causal_lm(directory):
    """A randomly initialised 2-layer causal LM with the MiniLM tokenizer and a chat template (all offline)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from llm4tag.embedding.sentence_transformer import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    tokenizer.eos_token = "[SEP]"
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} [SEP] {% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.5,  # large enough that the hidden state can steer the logits
    )
    import torch

    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.slow
def test_lora_training_lowers_the_loss_and_the_adapter_loads_back(tmp_path):
    pytest.importorskip("trl")
    from llm4tag.finetune.train import train_lora
    from llm4tag.llm import ChatRequest, create_llm

    base = make_tiny_causal_lm(tmp_path / "base")
    data = tmp_path / "sft.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"tags for package {i}?"},
                {"role": "assistant", "content": "networking"},
            ]
        }
        for i in range(16)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = train_lora(
        base,
        [data],
        tmp_path / "out",
        max_steps=30,
        learning_rate=1e-2,
        batch_size=4,
        lora_r=8,
        lora_alpha=16,
        max_length=64,
    )
    assert report.steps == 30
    assert sum(report.losses[-5:]) / 5 < 0.7 * sum(report.losses[:5]) / 5
    request = ChatRequest(messages=[{"role": "user", "content": "tags for package 99?"}], max_tokens=1, top_logprobs=50)

    def answer_logprob(llm) -> float:
        first = llm.tokenizer.decode(llm.tokenizer("networking", add_special_tokens=False).input_ids[:1])
        result = llm.chat(request)
        assert len(result.logprobs) == result.completion_tokens == 1
        return result.logprobs[0].top.get(first, -100.0)

    before = answer_logprob(create_llm("transformers", model=str(base)))
    after = answer_logprob(create_llm("transformers", model=str(base), adapter=str(report.adapter_dir)))
    assert after > before + 1.0  # the trained adapter, loaded back, makes the taught answer far more likely


# --- the learned judge (issue 13): LoRA on the Yes/No answer, served by the embedded llama.cpp ---


def test_judgement_rows_with_mistakes_are_refused_with_file_and_line(tmp_path):
    from llm4tag.errors import InputError
    from llm4tag.finetune.judge import read_judgements

    good = {"messages": [{"role": "user", "content": "Text: x\nTag: y"}, {"role": "assistant", "content": "Yes"}]}
    cases = {
        "not json": ("{oops", "line 2"),
        "answer": (
            {"messages": [{"role": "user", "content": "t"}, {"role": "assistant", "content": "Maybe"}]},
            "Yes or No",
        ),
        "no messages": ({"y": 1}, "messages"),
        "label": ({"messages": [{"role": "user", "content": "t"}], "y": 3}, "expected 0 or 1"),
    }
    for name, (row, expected) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps(good) + "\n" + (row if isinstance(row, str) else json.dumps(row)) + "\n")
        with pytest.raises(InputError) as caught:
            read_judgements(path)
        assert expected in str(caught.value) and "line 2" in str(caught.value) and str(path) in str(caught.value)
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(json.dumps({"messages": [{"role": "user", "content": "t"}], "y": 0}) + "\n")
    assert [p.label for p in read_judgements(unlabelled)] == [0]


def test_an_adapter_that_does_not_fit_the_model_is_refused(tmp_path):
    pytest.importorskip("gguf")
    import numpy as np
    from safetensors.numpy import save_file

    from llm4tag.errors import InputError
    from llm4tag.finetune.gguf_adapter import peft_to_gguf
    from llm4tag.llm.models import resolve_model

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    prefix = "base_model.model.model.layers.0.self_attn.q_proj"
    save_file(  # q_proj of the 0.5B model takes 896 inputs, not 1536
        {
            f"{prefix}.lora_A.weight": np.zeros((4, 1536), np.float32),
            f"{prefix}.lora_B.weight": np.zeros((896, 4), np.float32),
        },
        str(adapter / "adapter_model.safetensors"),
    )
    with pytest.raises(InputError, match="do not fit blk.0.attn_q.weight"):
        peft_to_gguf(adapter, tmp_path / "out.gguf", resolve_model("qwen2.5-coder-0.5b"))
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.slow
def test_learned_judge_trains_installs_and_llamacpp_serves_what_was_trained(project, tmp_path):
    """export -> train (transformers + peft, weights from the shipped GGUF) -> install (LoRA GGUF) -> the
    project's real llama.cpp judge answers like the trained model, and unlike the base model."""
    pytest.importorskip("peft")
    pytest.importorskip("gguf")
    from llm4tag.corpus import Document
    from llm4tag.finetune.install import install_judge_adapter
    from llm4tag.finetune.judge import read_judgements, train_judge_lora
    from llm4tag.llm.base import ChatRequest, yes_probability
    from llm4tag.llm.models import resolve_model

    export_sft(project, [Document(**c) for c in TINY_CONTENTS], tmp_path / "sft", negatives_per_document=2)
    data = tmp_path / "sft" / "judgement.jsonl"
    pairs = read_judgements(data)
    labels = np.array([p.label for p in pairs])
    assert 0 < labels.mean() < 1
    report = train_judge_lora(
        resolve_model("qwen2.5-coder-0.5b"), data, tmp_path / "judge", eval_data=data,
        epochs=3, batch_size=4, learning_rate=1e-3, lora_r=4, lora_alpha=8,
    )  # fmt: skip
    base, tuned = np.array(report.evaluation["base_p_yes"]), np.array(report.evaluation["tuned_p_yes"])

    def gap(p):
        return p[labels == 1].mean() - p[labels == 0].mean()

    assert gap(tuned) > gap(base) + 0.2  # it learned the project's answers

    project.config.llm.options.update(model="qwen2.5-coder-0.5b", threads=2)
    project.config.save(project.directory)
    stale = project.directory / "calibration" / "judge.pkl"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"fitted on the old judge")
    done = install_judge_adapter(project, report.adapter_dir)
    assert not stale.exists() and "judge.pkl" in done["removed"]
    assert project.config.llm.options["adapter"].startswith("adapters/judge-")

    reopened = Project.open(project.directory)
    try:
        llm = reopened.llm.get()
        assert "+lora:" in llm.name  # cached judgements of the base model are not reused
        served = np.array([
            yes_probability(llm.chat(ChatRequest(p.messages, max_tokens=1, top_logprobs=20)).logprobs[0])
            for p in pairs
        ])  # fmt: skip
    finally:
        reopened.close()
    assert np.abs(served - tuned).mean() < 0.08
    assert np.abs(served - tuned).mean() < 0.5 * np.abs(served - base).mean()


def test_a_missing_judge_adapter_is_a_clear_error_naming_where_it_was_looked_for(project):
    from llm4tag.errors import ConfigError

    project.config.llm.options.update(model="qwen2.5-coder-0.5b", adapter="adapters/judge-gone.gguf")
    project.config.save(project.directory)
    reopened = Project.open(project.directory)
    try:
        assert reopened.llm.options["adapter"] == str(project.directory / "adapters" / "judge-gone.gguf")
        with pytest.raises(ConfigError, match="no LoRA GGUF at .*judge-gone.gguf"):
            reopened.llm.get()
    finally:
        reopened.close()


@pytest.mark.slow
def test_an_adapter_trained_for_another_model_is_refused_by_llamacpp(tmp_path):
    gguf = pytest.importorskip("gguf")
    from llm4tag.errors import BackendError
    from llm4tag.llm.llamacpp import LlamaCppBackend

    writer = gguf.GGUFWriter(path=None, arch="qwen2")  # shaped for a model of width 1536; the 0.5B has 896
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 8.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 1536), np.float16))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((1536, 4), np.float16))
    writer.write_header_to_file(path=tmp_path / "other.gguf")
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(BackendError, match="with the adapter .*other.gguf"):
        LlamaCppBackend("qwen2.5-coder-0.5b", adapter=str(tmp_path / "other.gguf"))
