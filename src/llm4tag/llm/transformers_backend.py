"""A local Hugging Face model directory (optionally with a LoRA adapter) through transformers.

For fine-tuned models and GPUs. No constrained decoding here: answers are validated by the generator,
and log-probabilities come from the generation scores.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from llm4tag.errors import BackendError, ConfigError
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, TokenLogprobs


class TransformersBackend(LLMBackend):
    supports_json_schema = False

    def __init__(
        self, model: str, *, adapter: str | None = None, device: str | None = None, dtype: str = "auto", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover
            raise ConfigError("transformers is not installed: pip install 'llm4tag[finetune]'") from exc
        if not Path(model).is_dir():
            raise ConfigError(f"transformers backend: {model!r} is not a local model directory")
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        source = adapter if adapter and (Path(adapter) / "tokenizer_config.json").exists() else model
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        loaded = AutoModelForCausalLM.from_pretrained(model, local_files_only=True, dtype=dtype)
        if adapter:
            try:
                from peft import PeftModel
            except ImportError as exc:  # pragma: no cover
                raise ConfigError("LoRA adapters need peft: pip install 'llm4tag[finetune]'") from exc
            loaded = PeftModel.from_pretrained(loaded, adapter)
        self.model = loaded.to(self.device).eval()
        self.name = f"transformers:{Path(model).name}" + (f"+{Path(adapter).name}" if adapter else "")
        self._lock = threading.Lock()

    def _complete(self, request: ChatRequest, timeout: float | None = None) -> ChatResult:
        torch = self._torch
        tokenizer = self.tokenizer
        try:
            inputs = tokenizer.apply_chat_template(
                request.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            ).to(self.device)
        except Exception as exc:
            raise BackendError(f"{self.name}: cannot apply the chat template: {exc}") from None
        prompt_length = inputs["input_ids"].shape[1]
        with self._lock, torch.no_grad():
            output = self.model.generate(
                **inputs,
                max_new_tokens=request.max_tokens,
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            )
        generated = output.sequences[0, prompt_length:]
        logprobs = []
        if request.top_logprobs:
            for step, token_id in zip(output.scores, generated.tolist()):
                log_probs = torch.log_softmax(step[0].float(), dim=-1)
                values, ids = log_probs.topk(request.top_logprobs)
                top = {tokenizer.decode([i]): float(v) for v, i in zip(values.tolist(), ids.tolist())}
                token = tokenizer.decode([token_id])
                top.setdefault(token, float(log_probs[token_id]))
                logprobs.append(TokenLogprobs(token=token, logprob=float(log_probs[token_id]), top=top))
        return ChatResult(
            text=tokenizer.decode(generated, skip_special_tokens=True),
            logprobs=logprobs,
            prompt_tokens=int(prompt_length),
            completion_tokens=int(len(generated)),
        )
