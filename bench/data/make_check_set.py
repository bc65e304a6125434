"""A second check set from debtags, unlike it where it matters: short texts.

``debtags-short``: each package's one-line synopsis only (the first line of its description, about 40
characters instead of about 360), with all its tags; ``--facets use,works-with`` keeps only those facets' tags
(fewer tags per document) and drops packages left without one. The splits stay debtags' (split by source package).

    .venv/bin/python -m bench.data.make_check_set --data ../shared/data/debtags --out ../check-sets/debtags-short
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--out", required=True)
    parser.add_argument("--facets", help="comma-separated facets to keep (default: all)")
    args = parser.parse_args()
    facets = set(args.facets.split(",")) if args.facets else None

    def keep(tag: str) -> bool:
        return facets is None or tag.split("::", 1)[0] in facets

    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for split in ("train", "dev", "test"):
        rows = []
        for line in (data / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            tags = [t for t in row["tags"] if keep(t)]
            if tags:
                rows.append({"id": row["id"], "text": row["text"].split("\n", 1)[0].strip(), "tags": tags})
                used.update(tags)
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        mean = sum(len(r["tags"]) for r in rows) / len(rows)
        print(f"{split}: {len(rows)} documents, {mean:.2f} tags each")
    tags = [json.loads(line) for line in (data / "tags.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = [t for t in tags if keep(t["id"])]
    (out / "tags.jsonl").write_text("".join(json.dumps(t) + "\n" for t in kept), encoding="utf-8")
    print(f"tags: {len(kept)} ({len(used)} used in the annotations)")


if __name__ == "__main__":
    main()
