"""Train the learned judge on a GPU machine and bring back what the embedded runtime needs.

    python3 -m bench.gpu.judge_lora --base model.gguf --data judgement.jsonl --eval dev_pairs.jsonl \\
        --out $OUT --max-seconds 220

Runs ``llm4tag finetune judge`` (loss on the Yes/No answer token, base weights dequantized from the shipped
GGUF) and writes to ``--out``: ``report.json`` (loss curve, held-out ROC-AUC before and after,
per-pair P(Yes) from transformers for the parity check against llama.cpp), ``adapter_config.json`` and the
adapter weights in float16 shards of at most ``--shard-mib`` (a lent machine returns files of at most 16 MiB).
Join them here with ``bench/gpu/judge_lora.py --join OUT_DIR ADAPTER_DIR``; then ``llm4tag finetune install``.
Needs only torch, transformers, peft, gguf and scikit-learn, so it runs from ``src/`` without installing llm4tag.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # runs on a GPU machine without installing llm4tag


def shard(adapter_dir: Path, out: Path, shard_mib: float) -> list[str]:
    from safetensors.torch import load_file, save_file

    weights = {k: v.half() for k, v in load_file(str(adapter_dir / "adapter_model.safetensors")).items()}
    limit, names, part, size = shard_mib * 2**20, [], {}, 0
    for key in sorted(weights):
        nbytes = weights[key].numel() * 2
        if part and size + nbytes > limit:
            names.append(f"adapter_model-{len(names) + 1:02d}.safetensors")
            save_file(part, str(out / names[-1]))
            part, size = {}, 0
        part[key], size = weights[key], size + nbytes
    names.append(f"adapter_model-{len(names) + 1:02d}.safetensors")
    save_file(part, str(out / names[-1]))
    shutil.copy(adapter_dir / "adapter_config.json", out / "adapter_config.json")
    return names


def join(shards: Path, adapter_dir: Path) -> None:
    """The shards back into one peft adapter folder (``adapter_model.safetensors``)."""
    from safetensors.numpy import load_file, save_file

    weights: dict = {}
    for file in sorted(shards.glob("adapter_model-*.safetensors")):
        weights.update(load_file(str(file)))
    adapter_dir.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(adapter_dir / "adapter_model.safetensors"))
    shutil.copy(shards / "adapter_config.json", adapter_dir / "adapter_config.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--join", nargs=2, metavar=("SHARDS", "ADAPTER_DIR"))
    parser.add_argument("--base")
    parser.add_argument("--data")
    parser.add_argument("--eval")
    parser.add_argument("--out")
    parser.add_argument("--max-seconds", type=float, default=220)
    parser.add_argument("--max-pairs", type=int)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--shard-mib", type=float, default=15)
    args = parser.parse_args()
    if args.join:
        join(Path(args.join[0]), Path(args.join[1]))
        return
    from llm4tag.cli import main as cli

    out, work = Path(args.out), Path("/tmp/judge-lora")
    command = ["finetune", "judge", "--base", args.base, "--data", args.data, "--out", str(work)]
    command += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    command += ["--learning-rate", str(args.learning_rate), "--lora-r", str(args.lora_r)]
    command += ["--eval", args.eval] if args.eval else []
    command += ["--max-pairs", str(args.max_pairs)] if args.max_pairs else []
    command += ["--max-seconds", str(args.max_seconds)] if args.max_seconds else []
    if cli(command) != 0:
        sys.exit(1)
    out.mkdir(parents=True, exist_ok=True)
    data = json.loads((work / "train-report.json").read_text())
    data["shards"] = shard(work / "adapter", out, args.shard_mib)
    (out / "report.json").write_text(json.dumps(data))


if __name__ == "__main__":
    main()
