"""Long-term knowledge: SFT data export from the real recall stage, and LoRA training on CPU."""

import json

import pytest
from tests.conftest import TINY_CONTENTS

from llm4tag.finetune import export_sft
from llm4tag.project import Project


class NoLLM:
    """Export builds prompts only; no model is ever called."""

    supports_json_schema = True
    name = "none"

    def close(self):
        pass


@pytest.fixture
def project(tmp_path, tiny_files, hashing_embedder):
    tags, contents = tiny_files
    p = Project.init(tmp_path / "proj", embedder=hashing_embedder, llm=NoLLM())
    p.add_tags(tags)
    p.add_contents(contents)
    yield p
    p.close()


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
