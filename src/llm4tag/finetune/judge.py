"""A judge that learns from the project: LoRA on the Yes/No judgement, trained from the annotated corpus.

The judgement rows of ``llm4tag finetune export`` (the real judge prompt for a content and a tag, answered
"Yes" for a gold tag and "No" for a hard negative from the recall stage) train a LoRA adapter whose loss is
the answer token alone: the judge reads one token's probabilities, so that is all the adapter must learn.
The base weights load from the same GGUF file the embedded runtime serves (transformers dequantizes it),
so the adapter is trained on the weights it will be applied to; ``llm4tag finetune install`` converts it to
a llama.cpp LoRA GGUF in the project (``llm4tag.finetune.gguf_adapter``).

Runs on a GPU in minutes; on a CPU only for small checks (docs/finetuning.md).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llm4tag.errors import InputError
from llm4tag.fileio import iter_jsonl
from llm4tag.finetune import finetune_extra

#: the first-token spellings the judge counts as an answer (llm.base.yes_probability sums these)
YES_SPELLINGS = ("Yes", "yes", " Yes", " yes", "YES")
NO_SPELLINGS = ("No", "no", " No", " no", "NO")
#: the modules LoRA adapts in a Qwen2/Llama-style model, and their llama.cpp tensor names
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class JudgementPair:
    """One judge prompt (chat messages without the answer) and whether the tag applies."""

    messages: list[dict[str, str]]
    label: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeTrainReport:
    adapter_dir: Path
    pairs: int
    steps: int
    seconds: float
    device: str
    skipped_steps: int = 0
    losses: list[float] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        text = (
            f"judge adapter saved to {self.adapter_dir}: {self.pairs} pairs, {self.steps} steps, "
            f"{self.seconds:.0f} s on {self.device}"
        )
        if self.losses:
            head, tail = self.losses[: max(1, len(self.losses) // 10)], self.losses[-max(1, len(self.losses) // 10) :]
            text += f"; loss {sum(head) / len(head):.3f} -> {sum(tail) / len(tail):.3f}"
        if self.evaluation:
            text += "; " + ", ".join(f"{k} {v}" for k, v in self.evaluation.items() if not isinstance(v, list))
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["adapter_dir"] = str(self.adapter_dir)
        return data


def read_judgements(path: str | Path) -> list[JudgementPair]:
    """Judgement rows: ``{"messages": [..., {"role": "assistant", "content": "Yes"|"No"}]}`` (what ``finetune
    export`` writes), or ``{"messages": [...], "y": 0|1}`` with the answer left out; other keys are kept."""
    pairs = []
    for line_no, row in iter_jsonl(path):
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InputError("expected a non-empty list of chat messages", path=path, line=line_no, field="messages")
        if "y" in row:
            label = row["y"]
        elif messages[-1].get("role") == "assistant":
            answer = str(messages[-1].get("content", "")).strip().lower()
            if answer not in ("yes", "no"):
                raise InputError(
                    f"expected the answer Yes or No, got {answer!r}", path=path, line=line_no, field="messages"
                )
            label, messages = int(answer == "yes"), messages[:-1]
        else:
            raise InputError(
                "expected a final assistant answer (Yes/No) or a label", path=path, line=line_no, field="y"
            )
        if label not in (0, 1, True, False):
            raise InputError(f"expected 0 or 1, got {label!r}", path=path, line=line_no, field="y")
        extra = {k: v for k, v in row.items() if k not in ("messages", "y")}
        pairs.append(JudgementPair(messages, int(label), extra))
    if not pairs:
        raise InputError("no judgement rows", path=path)
    return pairs


def load_base_model(base: str | Path, dtype: Any = None):
    """Tokenizer and causal LM from a GGUF file (dequantized by transformers) or a local HF model folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = Path(base)
    if base.is_file() and base.suffix == ".gguf":
        options = {"gguf_file": base.name}
        folder = base.parent
    elif base.is_dir():
        options, folder = {"local_files_only": True}, base
    else:
        raise InputError("expected a GGUF file or a local Hugging Face model folder", path=base)
    tokenizer = AutoTokenizer.from_pretrained(folder, **options)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **options)
    return tokenizer, model


def _token_ids(tokenizer, spellings: tuple[str, ...]) -> list[int]:
    ids = []
    for text in spellings:
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) == 1 and encoded[0] not in ids:
            ids.append(encoded[0])
    return ids


class _Batches:
    """Tokenized prompts, right-padded per batch; the answer is read at each prompt's own last position.

    (Left padding leaves pad rows with nothing to attend to, whose NaNs reached real tokens in training.)
    """

    def __init__(self, tokenizer, pairs: list[JudgementPair], max_length: int) -> None:
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.prompts = []
        for pair in pairs:
            ids = tokenizer.apply_chat_template(pair.messages, add_generation_prompt=True, tokenize=True)
            if not isinstance(ids, list):  # transformers 5 returns a BatchEncoding
                ids = ids["input_ids"]
            self.prompts.append(list(ids)[-max_length:])
        self.labels = [p.label for p in pairs]

    def batch(self, indices: list[int], device):
        import torch

        width = max(len(self.prompts[i]) for i in indices)
        ids = torch.full((len(indices), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(indices), width), dtype=torch.long)
        for row, i in enumerate(indices):
            prompt = self.prompts[i]
            ids[row, : len(prompt)] = torch.tensor(prompt)
            mask[row, : len(prompt)] = 1
        labels = torch.tensor([self.labels[i] for i in indices])
        return ids.to(device), mask.to(device), labels.to(device)


def _last_logits(model, ids, mask):
    """Next-token logits at each prompt's last real position (the LM head runs on those rows only)."""
    import torch

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
    last = mask.sum(dim=1) - 1
    rows = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    return causal_lm.lm_head(rows).float()


def judge_probabilities(model, tokenizer, pairs: list[JudgementPair], *, batch_size: int = 32, max_length: int = 768):
    """P(Yes) / (P(Yes) + P(No)) at the answer position for each pair, as the embedded judge reads it."""
    import torch

    yes, no = _token_ids(tokenizer, YES_SPELLINGS), _token_ids(tokenizer, NO_SPELLINGS)
    data = _Batches(tokenizer, pairs, max_length)
    device = next(model.parameters()).device
    order = sorted(range(len(pairs)), key=lambda i: len(data.prompts[i]))
    out = [0.0] * len(pairs)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask, _ = data.batch(chunk, device)
            probs = _last_logits(model, ids, mask).softmax(-1)
            p_yes, p_no = probs[:, yes].sum(-1), probs[:, no].sum(-1)
            for i, value in zip(chunk, (p_yes / (p_yes + p_no).clamp_min(1e-12)).tolist()):
                out[i] = value
    return out


def train_judge_lora(
    base: str | Path,
    data: str | Path,
    output_dir: str | Path,
    *,
    eval_data: str | Path | None = None,
    epochs: float = 1.0,
    learning_rate: float = 2e-4,
    batch_size: int = 16,
    lora_r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.05,
    target_modules: tuple[str, ...] = TARGET_MODULES,
    max_length: int = 768,
    max_pairs: int | None = None,
    max_seconds: float | None = None,
    seed: int = 0,
) -> JudgeTrainReport:
    """Train the judge's LoRA adapter on judgement rows; with ``eval_data``, score held-out pairs before and after.

    ``max_seconds`` stops training early, so a run on a lent machine ends on time: the learning-rate schedule
    is re-planned every ten steps on the steps that still fit (the pace measured after the warm-up steps).
    """
    with finetune_extra("the learned judge"):
        import torch
        from peft import LoraConfig, get_peft_model
    pairs = read_judgements(data)
    held_out = read_judgements(eval_data) if eval_data else []
    rng = random.Random(seed)
    rng.shuffle(pairs)
    if max_pairs:
        pairs = pairs[:max_pairs]
    torch.manual_seed(seed)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    tokenizer, model = load_base_model(base, dtype=dtype)
    model.to(device)
    model.config.use_cache = False
    evaluation: dict[str, Any] = {}
    if held_out:
        evaluation["base_p_yes"] = judge_probabilities(model, tokenizer, held_out, max_length=max_length)
    config = LoraConfig(
        r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=list(target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    for parameter in model.parameters():  # adapters train in float32 beside bf16 base weights
        if parameter.requires_grad:
            parameter.data = parameter.data.float()
    yes_id = _token_ids(tokenizer, ("Yes",))[0]
    no_id = _token_ids(tokenizer, ("No",))[0]
    batches = _Batches(tokenizer, pairs, max_length)
    order = list(range(len(pairs)))
    steps_per_epoch = math.ceil(len(order) / batch_size)
    planned = full_plan = max(1, math.ceil(steps_per_epoch * epochs))
    tenth_step = 0.0
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=learning_rate, weight_decay=0.0)
    warmup = max(1, min(20, planned // 10))
    losses: list[float] = []
    skipped = 0
    started = time.perf_counter()
    step = 0
    model.train()
    while step < planned:
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            if step >= planned:
                break
            scale = min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / planned)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * scale
            ids, mask, labels = batches.batch(order[start : start + batch_size], device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
                logits = _last_logits(model, ids, mask)
            target = torch.where(labels == 1, torch.tensor(yes_id, device=device), torch.tensor(no_id, device=device))
            loss = torch.nn.functional.cross_entropy(logits, target)
            finite = bool(torch.isfinite(loss))
            if finite:  # a bf16 overflow skips the update, counted, rather than poisoning the adapter
                loss.backward()
                finite = bool(torch.isfinite(torch.nn.utils.clip_grad_norm_(trained, 1.0)))
            if finite:
                optimizer.step()
                losses.append(round(loss.item(), 4))
            else:
                skipped += 1
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if max_seconds and step % 10 == 0:  # plan the steps that fit the budget, as the pace is measured
                now = time.perf_counter()
                if step == 10:  # the first steps pay for warm-up: the pace is taken after them
                    tenth_step = now
                    per_step = (now - started) / step
                else:
                    per_step = (now - tenth_step) / (step - 10)
                fits = step + int(max(0.0, max_seconds - (now - started)) / per_step)
                planned = max(step + 1, min(full_plan, fits))
            if step % 50 == 0 and losses:
                recent = losses[-50:]
                print(
                    f"step {step}/{planned} loss {sum(recent) / len(recent):.4f} "
                    f"{time.perf_counter() - started:.0f} s, {skipped} skipped",
                    flush=True,
                )
    seconds = time.perf_counter() - started
    output_dir = Path(output_dir)
    adapter_dir = output_dir / "adapter"
    model.save_pretrained(adapter_dir)
    if held_out:
        evaluation["tuned_p_yes"] = judge_probabilities(model, tokenizer, held_out, max_length=max_length)
        evaluation.update(_roc_auc(held_out, evaluation["base_p_yes"], evaluation["tuned_p_yes"]))
    report = JudgeTrainReport(
        adapter_dir=adapter_dir,
        pairs=len(pairs),
        steps=step,
        seconds=round(seconds, 1),
        device=torch.cuda.get_device_name() if cuda else "cpu",
        skipped_steps=skipped,
        losses=losses,
        evaluation=evaluation,
    )
    (output_dir / "train-report.json").write_text(json.dumps(report.to_json()))
    return report


def _roc_auc(pairs: list[JudgementPair], base: list[float], tuned: list[float]) -> dict[str, float]:
    """ROC-AUC of each score on the pairs whose scores are finite (the count of the others is reported)."""
    from sklearn.metrics import roc_auc_score

    out: dict[str, float] = {}
    for name, scores in (("base", base), ("tuned", tuned)):
        kept = [(p.label, s) for p, s in zip(pairs, scores) if math.isfinite(s)]
        out[f"non_finite_{name}"] = len(scores) - len(kept)
        if len({label for label, _ in kept}) == 2:
            out[f"roc_auc_{name}"] = round(float(roc_auc_score(*zip(*kept))), 4)
    return out
