"""The debtags sample shipped in the package (``src/llm4tag/data/debtags-sample``): the whole tag library and
the first N lines of each split, gzip-compressed without a time stamp, so the same input gives the same bytes.

    .venv/bin/python -m bench.data.make_debtags_sample --data ../shared/data/debtags \\
        --out src/llm4tag/data/debtags-sample
"""

from __future__ import annotations

import argparse
import gzip
from itertools import islice
from pathlib import Path

SIZES = {"tags": None, "train": 5000, "dev": 500, "test": 500}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--out", default="src/llm4tag/data/debtags-sample")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split, size in SIZES.items():
        with (Path(args.data) / f"{split}.jsonl").open("rb") as source:
            lines = list(islice(source, size))
        with (
            (out / f"{split}.jsonl.gz").open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as target,
        ):
            target.writelines(lines)
        print(f"{split}: {len(lines)} lines -> {out / f'{split}.jsonl.gz'}")


if __name__ == "__main__":
    main()
