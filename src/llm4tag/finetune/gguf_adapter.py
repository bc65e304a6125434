"""PEFT LoRA adapter -> llama.cpp LoRA GGUF, so the embedded runtime serves what a GPU trained.

llama.cpp reads an adapter as a GGUF file of ``general.type = adapter`` whose tensors are named after
the base model's (``blk.3.attn_q.weight.lora_a`` / ``.lora_b``) with the LoRA scale from
``adapter.lora.alpha`` (scale = alpha / rank, as in peft). The file is written with the ``gguf`` package
(llama.cpp's own writer); this module only maps names and checks shapes against the base model.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from llm4tag.errors import InputError
from llm4tag.finetune import finetune_extra

#: peft module name -> llama.cpp tensor name, for the Qwen2/Llama family of models
MODULE_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"(?:base_model\.model\.)?model\.layers\.(\d+)\.(.+)\.lora_([AB])(?:\.default)?\.weight$")


def base_architecture(base_gguf: str | Path) -> tuple[str, dict[str, tuple[int, ...]]]:
    """The base model's architecture name and its tensor shapes (GGUF order: input dimension first)."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    field = reader.fields.get("general.architecture")
    if field is None:
        raise InputError("not a model GGUF (no general.architecture)", path=base_gguf)
    arch = bytes(field.parts[field.data[0]]).decode()
    return arch, {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}


def peft_to_gguf(adapter_dir: str | Path, out_path: str | Path, base_gguf: str | Path) -> dict:
    """Write ``adapter_dir`` (peft ``save_pretrained``) as a llama.cpp LoRA GGUF; returns what was written."""
    with finetune_extra("converting an adapter"):
        import gguf
        import numpy as np
        from safetensors.numpy import load_file
    adapter_dir = Path(adapter_dir)
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.exists():
        raise InputError("expected a peft adapter folder (adapter_config.json is missing)", path=adapter_dir)
    config = json.loads(config_path.read_text())
    if config.get("use_dora") or config.get("use_rslora"):
        raise InputError("DoRA and rsLoRA adapters cannot be served by llama.cpp", path=config_path)
    weights: dict[str, np.ndarray] = {}
    files = sorted(adapter_dir.glob("adapter_model*.safetensors"))
    if not files:
        raise InputError("no adapter_model*.safetensors in the adapter folder", path=adapter_dir)
    for file in files:
        weights.update(load_file(str(file)))
    arch, base_shapes = base_architecture(base_gguf)
    tensors: dict[str, np.ndarray] = {}
    for key, value in weights.items():
        match = _KEY.search(key)
        if not match:
            raise InputError(f"adapter tensor {key!r} is not a LoRA weight of a transformer block", path=files[0])
        layer, module, part = match.groups()
        if module not in MODULE_NAMES:
            raise InputError(f"adapter targets {module!r}, which llm4tag cannot map to llama.cpp", path=files[0])
        name = f"blk.{layer}.{MODULE_NAMES[module]}.weight"
        if name not in base_shapes:
            raise InputError(f"the base model has no tensor {name}: adapter and model do not match", path=base_gguf)
        tensors[f"{name}.lora_{part.lower()}"] = value.astype(np.float32)
    for name in {n.rsplit(".", 1)[0] for n in tensors}:
        a, b = tensors.get(f"{name}.lora_a"), tensors.get(f"{name}.lora_b")
        if a is None or b is None:
            raise InputError(f"adapter has only one half of {name}", path=files[0])
        fan_in, fan_out = base_shapes[name][:2]
        if a.shape[1] != fan_in or b.shape[0] != fan_out or a.shape[0] != b.shape[1]:
            raise InputError(
                f"adapter shapes {a.shape} / {b.shape} do not fit {name} {base_shapes[name]}: adapter and model "
                "do not match",
                path=files[0],
            )
    rank = int(config.get("r", 0)) or next(iter(tensors.values())).shape[0]
    alpha = float(config.get("lora_alpha", rank))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    try:  # written beside the target and moved over it when complete: a crash leaves the old adapter
        writer = gguf.GGUFWriter(path=None, arch=arch)
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", alpha)
        for name in sorted(tensors):
            writer.add_tensor(name, tensors[name].astype(np.float16))
        writer.write_header_to_file(path=partial)
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(out_path), "arch": arch, "rank": rank, "alpha": alpha, "tensors": len(tensors)}
