"""What the commands print: their reports turned into the lines a user reads (stdout for results, stderr for
notes beside JSON)."""

from __future__ import annotations

import sys


def print_init(done: dict, directory: str, *, tags: bool, contents: bool) -> None:
    if tags:
        print("tags: {} added, {} updated".format(*done["tags"]))
    if contents:
        print_contents(*done["contents"], done["load"])
    if done.get("set_aside"):
        print(f"calibration fitted under the old configuration set aside in {done['set_aside']}")
    print(f"project ready in {directory}; next: llm4tag index -p {directory}")


def print_contents(added: int, updated: int, report) -> None:
    note = f", skipped {report.skipped_unknown_tags} unknown tag id(s)" if report.skipped_unknown_tags else ""
    print(f"contents: {added} added, {updated} updated{note}")


def print_pruning(report: dict, what: str = "") -> None:
    choice = report["pruning"]
    rule = "best expected F1 per content" if choice["rule"] == "expected_f1" else f"threshold {choice['threshold']}"
    print(
        f"{what + ': ' if what else ''}{rule}, at most {choice['max_tags']} tags: F1 {choice['f1']:.3f}, "
        f"precision {choice['micro_precision']:.3f}, contents with a tag {choice['coverage']:.1%} "
        f"(saved to {report['saved_to']})",
        file=sys.stderr,
    )


def print_optimize(report: dict) -> None:
    """The choices ``optimize`` made, in words, on stderr (the report itself is JSON on stdout)."""
    tuning = report.get("recall_tuning", {})
    if tuning.get("chosen"):
        print(
            f"recall settings chosen on dev: {tuning['chosen']} (document F1 {tuning['start_doc_f1']:.3f} ->"
            f" {tuning['doc_f1']:.3f}, saved to llm4tag.toml; the ranker was refitted)",
            file=sys.stderr,
        )
    print_pruning(report)
    note = report.get("llm", {}).get("few_examples_floor_note") or report.get("few_examples_floor_note")
    if note:  # the LLM's shape first
        print(note, file=sys.stderr)
    if "llm" in report:
        print_pruning(report["llm"], what="with the LLM (on its sample)")
        decision = report["llm"]["llm_decision"]
        chosen = f"judge = {decision['judge']}" + (", generation" if decision["generation"] else "")
        print(
            f"LLM stages {'ON (' + chosen + ')' if decision['use_llm'] else 'off'}: {decision['reason']} "
            f"[cross-validated on {decision['documents']} held-out contents, recall only"
            f" {decision['recall_only_f1']:.3f}, with the LLM {decision['with_llm_f1']:.3f},"
            f" {decision['llm_calls_per_content']:.1f} LLM calls per content; saved to {decision['saved_to']}]",
            file=sys.stderr,
        )


def print_adapter_installed(done: dict) -> None:
    print(f"judge adapter installed: {done['path']} ([llm] adapter)")
    if done["removed"]:
        print(f"removed what was fitted on the previous judge: {', '.join(done['removed'])}")
    print("next: llm4tag calibrate DEV --llm-sample N, then llm4tag optimize DEV --llm-sample N")
