"""LoRA supervised fine-tuning with peft + trl on a local Hugging Face model directory.

On a GPU this is the paper's long-term knowledge: the selection and judgement data from
``llm4tag finetune export`` teach the model the domain. See docs/finetuning.md for serving the adapter
with vLLM (``--enable-lora``) or merging it and converting to GGUF for llama.cpp.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from llm4tag.errors import InputError
from llm4tag.finetune import finetune_extra


@dataclass
class TrainReport:
    adapter_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.losses:
            return f"adapter saved to {self.adapter_dir} after {self.steps} step(s)"
        return (
            f"adapter saved to {self.adapter_dir} after {self.steps} step(s); "
            f"loss {self.losses[0]:.3f} -> {self.losses[-1]:.3f}"
        )


def train_lora(
    base_model: str | Path,
    data_files: list[str | Path],
    output_dir: str | Path,
    *,
    max_steps: int = 200,
    learning_rate: float = 2e-4,
    batch_size: int = 4,
    gradient_accumulation: int = 1,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.05,
    max_length: int = 1536,
    seed: int = 0,
) -> TrainReport:
    """Train a LoRA adapter on chat-format JSONL files; returns the adapter directory and the loss curve."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with finetune_extra("fine-tuning"):
        import torch
        from datasets import load_dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import SFTConfig, SFTTrainer
    base_model = Path(base_model)
    if not base_model.is_dir():
        raise InputError("expected a local Hugging Face model directory", path=base_model)
    files = [str(Path(f)) for f in data_files]
    for f in files:
        if not Path(f).exists():
            raise InputError("training data not found", path=f)
    output_dir = Path(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_model, local_files_only=True)
    dataset = load_dataset("json", data_files=files, split="train")
    args = SFTConfig(
        output_dir=str(output_dir / "checkpoints"),
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=seed,
        max_length=max_length,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        lr_scheduler_type="constant",
        disable_tqdm=True,
    )
    peft_config = LoraConfig(
        r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )
    trainer.train()
    adapter_dir = output_dir / "adapter"
    trainer.model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return TrainReport(adapter_dir=adapter_dir, steps=trainer.state.global_step, losses=losses)
