"""Put a trained judge adapter into a project: ``llm4tag finetune install``.

The adapter becomes ``adapters/judge-<digest>.gguf`` in the project and ``[llm] adapter`` points at it, so
``tag``, ``eval`` and ``serve`` use it. What was fitted on the old judge's answers (the judge calibrators,
the LLM decision, the settings of LLM pipelines) no longer describes the judge and is removed; the recall
stage's calibration stays. Run ``llm4tag calibrate`` and ``llm4tag optimize`` with ``--llm-sample`` again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from llm4tag.calibration.artifacts import JUDGE_CALIBRATOR, LLM_DECISION, RECALL_CALIBRATOR, ZERO_SHOT_CALIBRATOR
from llm4tag.calibration.confidence import pipeline_shape
from llm4tag.errors import ConfigError, InputError
from llm4tag.fileio import sha256_of
from llm4tag.llm.models import resolve_model

ADAPTER_FOLDER = "adapters"


def install_judge_adapter(project, adapter: str | Path) -> dict:
    """Convert (a peft folder) or copy (a LoRA GGUF) ``adapter`` into the project and switch the project to it."""
    from llm4tag.finetune.gguf_adapter import peft_to_gguf

    config = project.config
    if config.llm.backend != "llamacpp":
        raise ConfigError(
            f"[llm] backend is {config.llm.backend!r}: serve the adapter on that server (vLLM: --enable-lora "
            "--lora-modules judge=ADAPTER) and name it as [llm] model; 'install' is for the embedded llama.cpp"
        )
    adapter = Path(adapter)
    folder = project.directory / ADAPTER_FOLDER
    folder.mkdir(exist_ok=True)
    staged = folder / ".incoming.gguf"
    if adapter.is_dir():
        base = resolve_model(str(config.llm.options.get("model", "qwen2.5-coder-1.5b")))
        written = peft_to_gguf(adapter, staged, base)
    elif adapter.is_file() and adapter.suffix == ".gguf":
        shutil.copyfile(adapter, staged)
        written = {"path": str(staged)}
    else:
        raise InputError("expected a peft adapter folder or a LoRA .gguf file", path=adapter)
    target = folder / f"judge-{sha256_of(staged)[:12]}.gguf"
    staged.replace(target)
    previous = config.llm.options.get("adapter")
    config.llm.options["adapter"] = f"{ADAPTER_FOLDER}/{target.name}"
    config.save(project.directory)
    removed = _remove_judge_calibration(project.directory / "calibration")
    return {**written, "path": str(target), "previous": previous, "removed": removed}


def _remove_judge_calibration(directory: Path) -> list[str]:
    """Files fitted on the previous judge's answers; the recall stage's own calibration is kept."""
    keep = {RECALL_CALIBRATOR, f"settings-{pipeline_shape('none', False)}.json"}
    stale = {JUDGE_CALIBRATOR, ZERO_SHOT_CALIBRATOR, LLM_DECISION}
    removed = []
    for path in sorted(directory.glob("*")) if directory.is_dir() else []:
        if path.name in keep:
            continue
        if path.name in stale or (path.name.startswith("settings-") and path.suffix == ".json"):
            path.unlink()
            removed.append(path.name)
    return removed
