"""Precision vs coverage of llm4tag and Annif on the same 300 debtags test documents (seeded sample).

    annif index parabel SAMPLE_DIR --limit 20        # in Annif's venv: DOC.annif files with scores
    .venv/bin/python -m bench.quality.plot_vs_annif --project debtags --annif-dir SAMPLE_DIR \\
        --annif-name "Annif parabel" \\
        --out docs/img/precision_coverage_vs_annif.png

llm4tag's curves: the pipeline measured in docs/benchmarks.md (recall + judge, judgements from the project's
cache) and the recall stage alone. Each curve sweeps the confidence threshold (at most 15 tags).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from bench.common import SAMPLE_SEED, SAMPLE_SIZE, annotated, project_parser
from llm4tag.calibration.plots import coverage_plot, precision_coverage_curve
from llm4tag.corpus import seeded_sample
from llm4tag.project import Project

BASE = "http://debtags.example/tag/"


def main() -> None:
    parser = project_parser()
    parser.add_argument("--annif-dir", required=True)
    parser.add_argument("--annif-name", default="Annif")
    parser.add_argument("--out", required=True)
    parser.add_argument("--recall-only", action="store_true", help="no judge curve (no LLM calls)")
    args = parser.parse_args()
    docs = seeded_sample(annotated(args.data, "test"), SAMPLE_SIZE, SAMPLE_SEED)
    golds = [set(d.tags) for d in docs]
    annif = []
    for doc in docs:
        rows = (Path(args.annif_dir) / f"{quote(doc.id, safe='')}.annif").read_text(encoding="utf-8").splitlines()
        parts = [row.split("\t") for row in rows if row.strip()]
        annif.append(
            ([unquote(p[0].strip("<>").removeprefix(BASE)) for p in parts], np.array([float(p[2]) for p in parts]))
        )
    with Project.open(args.project) as project:
        project.config.generation.enabled = False
        project.config.pipeline.judge = "none" if args.recall_only else "candidates"
        runs = project.tag(docs, route=False, prune=False)
    curves = {}
    if not args.recall_only:
        judged = [(r.scored.tag_ids, r.scored.confidence) for r in runs]
        curves["llm4tag: recall + judge"] = precision_coverage_curve(judged, golds)
    recall_only = [(r.scored.tag_ids, r.scored.recall_conf) for r in runs]
    curves["llm4tag: recall only"] = precision_coverage_curve(recall_only, golds)
    curves[args.annif_name] = precision_coverage_curve(annif, golds)
    coverage_plot(curves, args.out, "Precision vs coverage, 300 debtags test docs")
    print(args.out)


if __name__ == "__main__":
    main()
