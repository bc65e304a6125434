#!/usr/bin/env bash
# Is the recall stage unchanged by a refactoring? Calibrate, optimize and evaluate (recall stage, recall-only
# pipeline) a copy of an indexed project with the code at SRC, and print the headline numbers; run it once with
# the code before (a worktree: git worktree add /tmp/before REV) and once with the code after, and compare the
# JSON reports (they should be identical but for seconds_per_document).
#   bash bench/diagnosis/same_recall.sh NAME SRC PROJECT DATA OUT
#   e.g. bash bench/diagnosis/same_recall.sh before /tmp/before/src /tmp/m/debtags ../shared/data/debtags /tmp/m
set -euo pipefail
NAME=$1 SRC=$2 PROJECT=$3 DATA=$4 OUT=$5
cd "$(dirname "$0")/../.."
run="env PYTHONPATH=$SRC .venv/bin/python -m llm4tag.cli"
copy="$OUT/$(basename "$PROJECT")-$NAME"
rm -rf "$copy" && cp -r "$PROJECT" "$copy"
$run calibrate -p "$copy" "$DATA/dev.jsonl" --judge none --no-generation -q > /dev/null
$run optimize -p "$copy" "$DATA/dev.jsonl" --judge none --no-generation -q > /dev/null
$run eval -p "$copy" "$DATA/test.jsonl" --stage recall --json -q -o "$copy.json"
python3 - "$copy.json" "$NAME" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); k = r["ranking"]
print(sys.argv[2], "P@1", k["precision@1"], "NDCG@10", k["ndcg@10"], "F1@5", k["f1@5"], "docF1", r["tag_sets"]["f1"],
      "ECE", r["calibration"]["ece"], "recall@30", r["candidate_recall"]["fused"]["30"])
PY
