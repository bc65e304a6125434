"""``llm4tag discover``: find the contents the library serves badly, group them, and propose for each group the
tag the library lacks (``naming``), with its evidence; then a curator accepts, edits or rejects each.

The proposals go to a reviewable JSONL file (one group a line, written as soon as it is named: a killed run
resumes where it stopped) and a short Markdown report, and into the project's store, where the web UI's
"Missing tags" page reads them. Accepting one adds the tag to the library (its ``meta.discovered`` records the
evidence and when) and its evidence contents as annotated examples of it, so recall proposes it from the next
content on. A rejected proposal is remembered: a later run does not propose its label, nor name a group that
is mostly the rejected one's contents, again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from llm4tag.corpus import Document
from llm4tag.corpus.documents import is_synthetic
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.discovery.groups import Coverage, coverage, find_groups, uncovered
from llm4tag.discovery.naming import Group, LLMProposer, Proposal, WordsProposer, trim
from llm4tag.errors import InputError
from llm4tag.fileio import atomic_write, finished_records
from llm4tag.library.tags import Tag, TagLibrary, check_tag, normalize_label

PROPOSALS, DECISIONS = "discovery/proposals.jsonl", "discovery/decisions.json"
FORMAT = 1


@dataclass
class DiscoverySettings:
    """How contents are flagged and grouped (``groups.py`` says what each signal means)."""

    min_confidence: float = 0.5
    broad_share: float = 0.05
    min_similarity: float = 0.3
    shared_share: float = 0.5  # a group whose members share a specific tag this much is covered by it
    min_group: int = 5
    max_group: int | None = 200
    max_groups: int | None = None  # the largest groups only (each costs one LLM call)
    evidence: int = 5  # contents shown to the LLM and the curator, and learned as examples on accept
    nearest: int = 8  # existing tags shown beside a group
    duplicate_similarity: float = 0.9  # a proposal this close in meaning to an existing tag duplicates it


def own_contents(project) -> list[Document]:
    """The project's annotated contents with their tags (an LLM's synthetic ones left out: none is missing a tag)."""
    store = project.store
    tags: dict[int, list[str]] = {}
    for seq, tag_id in store.annotations():
        tags.setdefault(seq, []).append(tag_id)
    rows = store.content_rows()
    return [Document(r.id, r.text, tags[r.seq]) for r in rows if r.seq in tags and not is_synthetic(r.id)]


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "tag"


def group_key(ids: list[str]) -> str:
    return "g-" + hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:12]


def read_records(path: Path) -> list[dict]:
    """The records of a proposals file; a last line cut short by a kill is left out (it is redone)."""
    return finished_records(path, "key")


class Discovery:
    """One project's tag discovery: ``run`` proposes, ``decide`` applies a curator's decisions."""

    def __init__(self, project, proposer: LLMProposer | WordsProposer, settings: DiscoverySettings | None = None):
        self.project, self.proposer = project, proposer
        self.settings = settings or DiscoverySettings()

    # -- proposing ----------------------------------------------------------------------------
    def run(self, out: Path, docs: list[Document] | None = None, *, progress: bool = False) -> dict[str, Any]:
        """Propose tags for the poorly covered groups of ``docs`` (the project's annotated contents by
        default), appending to ``out`` (groups already in it are not named again); returns a summary."""
        s, project = self.settings, self.project
        own = docs is None
        docs = own_contents(project) if own else docs
        library = project.library
        start = time.perf_counter()
        results = project.tag([Document(d.id, d.text) for d in docs], progress=progress, llm=False, exclude_stored=own)
        prevalence = self._prevalence()
        covered = coverage(docs, results, prevalence, min_confidence=s.min_confidence, broad_share=s.broad_share,
                           min_similarity=s.min_similarity)  # fmt: skip
        self.coverage_ = covered  # each content's signals (the benchmark measures them)
        # the project's own contents are all grouped (their own signals find little: docs/benchmarks.md);
        # new ones, those their signals flag
        flagged = list(range(len(docs))) if own else [i for i, c in enumerate(covered) if c.poorly_covered]
        vectors = project.embedder.encode([docs[i].text for i in flagged]) if flagged else np.zeros((0, 1))
        groups, self.covered_groups_ = [], []
        for found in find_groups(vectors, min_size=s.min_group, max_size=s.max_group):
            rows = [flagged[i] for i in found]
            badly, tag, share = uncovered([covered[i].tags for i in rows], prevalence, broad_share=s.broad_share,
                                          shared_share=s.shared_share)  # fmt: skip
            if badly:
                groups.append(rows)
            else:
                self.covered_groups_.append((rows, tag, share))  # the library has a tag for them: not named
        groups = groups[: s.max_groups] if s.max_groups else groups
        seconds_finding = time.perf_counter() - start

        done = {r["key"] for r in read_records(out)}
        rejected = self.decisions().get("rejected", [])
        todo = [g for g in groups if group_key([docs[i].id for i in g]) not in done]
        out.parent.mkdir(parents=True, exist_ok=True)
        _drop_cut_line(out)
        bar = tqdm(total=len(todo), desc="naming groups", unit="group", disable=not progress)
        written = 0
        with out.open("a", encoding="utf-8") as handle:
            for rows in todo:
                record = self._record(rows, docs, covered, vectors, flagged, library, rejected)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()  # a killed run keeps every group named so far
                written += 1
                bar.set_postfix(llm_s=f"{record['llm_seconds']:.1f}")
                bar.update(1)
        bar.close()
        records = read_records(out)
        self._keep(records)
        write_report(out.with_suffix(".md"), records, library)
        signals = Counter(reason for c in covered for reason in c.reasons)
        return {
            "contents": len(docs),
            "poorly_covered": sum(c.poorly_covered for c in covered),
            "grouped": len(flagged),
            "signals": dict(signals),
            "groups": len(groups),
            "groups_covered": len(self.covered_groups_),
            "named_now": written,
            "proposed": sum(r["status"] == "proposed" for r in records),
            "seconds_finding": round(seconds_finding, 1),
            "llm_seconds": round(sum(r["llm_seconds"] for r in records), 1),
        }

    def _prevalence(self) -> dict[str, float]:
        annotations = self.project.store.annotations()  # read once: every annotation of the project
        counts = Counter(tag_id for _, tag_id in annotations)
        total = max(len({seq for seq, _ in annotations}), 1)
        return {tag_id: n / total for tag_id, n in counts.items()}

    def _record(self, rows, docs, covered: list[Coverage], vectors, flagged, library: TagLibrary, rejected) -> dict:
        s = self.settings
        ids = [docs[i].id for i in rows]
        position = {doc_row: k for k, doc_row in enumerate(flagged)}
        group_vectors = vectors[[position[i] for i in rows]]
        centre = group_vectors.mean(axis=0)
        order = np.argsort(-(group_vectors @ centre))
        evidence_rows = [rows[i] for i in order[: s.evidence]]
        tagged = Counter(t for i in rows for t in covered[i].tags)
        nearest = self._nearest_tags(centre, library)
        record: dict[str, Any] = {
            "format": FORMAT,
            "key": group_key(ids),
            "size": len(rows),
            "members": ids,
            "evidence": [
                {"id": docs[i].id, "snippet": trim(docs[i].text, 200), "text": docs[i].text} for i in evidence_rows
            ],
            "tagged_today": dict(tagged.most_common(10)),
            "nearest": [t.id for t in nearest],
            "signals": dict(Counter(r for i in rows for r in covered[i].reasons)),
            "proposer": self.proposer.name,
        }
        overlap = next((r for r in rejected if _overlap(ids, r.get("members", [])) >= 0.5), None)
        if overlap is not None:
            record.update(status="rejected-before", proposal=None, duplicate_of=None, llm_seconds=0.0,
                          rejected_label=overlap.get("label"))  # fmt: skip
            return record
        group = Group([docs[i].text for i in evidence_rows], [docs[i].text for i in rows], nearest, tagged)
        [proposal] = self.proposer.propose_all([group], library)
        record.update(self._judge(proposal, library, rejected))
        record["llm_seconds"] = round(proposal.llm_seconds, 3)
        if isinstance(self.proposer, LLMProposer):
            record["model"] = getattr(self.proposer.llm, "model_name", None) or self.proposer.llm.name
            prompt = self.proposer.template
            record["prompt_hash"] = hashlib.sha256((prompt.system + prompt.user).encode()).hexdigest()[:12]
        return record

    def _nearest_tags(self, centre: np.ndarray, library: TagLibrary) -> list[Tag]:
        graph = self.project.recall_index.graph
        if not graph.n_tags:
            return []
        k = min(self.settings.nearest * 2, graph.n_tags)
        _, positions = graph.tag_dense.search(np.asarray(centre[None, :], dtype=np.float32), k)
        found = [graph.tag_ids[p] for p in positions[0].tolist() if p >= 0 and graph.active_tags[p]]
        return [library[t] for t in found if t in library][: self.settings.nearest]

    def _judge(self, proposal: Proposal, library: TagLibrary, rejected: list[dict]) -> dict[str, Any]:
        """The proposal's status: proposed, no new tag, a duplicate of an existing tag (by name or meaning), or
        a label rejected before."""
        out: dict[str, Any] = {"proposal": proposal.to_dict(), "duplicate_of": None}
        if not proposal.new_tag:
            return {**out, "status": "no-new-tag"}
        if normalize_label(proposal.label) in {normalize_label(r.get("label", "")) for r in rejected}:
            return {**out, "status": "rejected-before"}
        names = library.by_name()
        for name in [proposal.label, *proposal.aliases]:
            if normalize_label(name) in names:
                return {
                    **out,
                    "status": "duplicate",
                    "duplicate_of": names[normalize_label(name)],
                    "duplicate_by": "name",
                }
        graph = self.project.recall_index.graph
        if graph.n_tags:
            vector = self.project.embedder.encode([f"{proposal.label}: {proposal.description}"])
            scores, positions = graph.tag_dense.search(np.asarray(vector, dtype=np.float32), 1)
            if positions[0][0] >= 0 and scores[0][0] >= self.settings.duplicate_similarity:
                tag_id = graph.tag_ids[int(positions[0][0])]
                return {**out, "status": "duplicate", "duplicate_of": tag_id, "duplicate_by": "meaning",
                        "duplicate_similarity": round(float(scores[0][0]), 4)}  # fmt: skip
        return {**out, "status": "proposed"}

    # -- the store's copy and the curator's decisions ----------------------------------------------
    def _keep(self, records: list[dict]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        self.project.store.put_artifact(PROPOSALS, data, {"at": _now()})

    def proposals(self) -> list[dict]:
        """The last run's records as the store keeps them, with the decisions taken since."""
        found = self.project.store.get_artifact(PROPOSALS)
        if found is None:
            return []
        return [json.loads(line) for line in found[0].decode("utf-8").splitlines() if line.strip()]

    def decisions(self) -> dict[str, list[dict]]:
        found = self.project.store.get_artifact(DECISIONS)
        return json.loads(found[0].decode("utf-8")) if found is not None else {"accepted": [], "rejected": []}

    def decide(self, key: str, decision: str, edits: dict[str, Any] | None = None) -> dict[str, Any]:
        """Accept (with the curator's ``edits`` of id, label, description, aliases, parent) or reject the
        proposal ``key`` of the stored run; returns what was done."""
        records = self.proposals()
        record = next((r for r in records if r["key"] == key), None)
        if record is None:
            raise InputError(f"no proposal {key!r} in the last discovery run", field="key")
        if decision not in ("accept", "reject"):
            raise InputError(f"expected accept or reject, not {decision!r}", field="decision")
        decisions = self.decisions()
        if decision == "reject":
            label = (edits or {}).get("label") or (record.get("proposal") or {}).get("label", "")
            decisions["rejected"].append({"key": key, "label": label, "members": record["members"], "at": _now()})
            record["status"] = "rejected"
            done: dict[str, Any] = {"rejected": key}
        else:
            tag = self._accept(record, edits or {})
            decisions["accepted"].append({"key": key, "tag": tag.id, "at": _now()})
            record["status"], record["accepted_as"] = "accepted", tag.id
            done = {"accepted": key, "tag": tag.to_dict()}
        self.project.store.put_artifact(DECISIONS, json.dumps(decisions).encode("utf-8"), {"at": _now()})
        self._keep(records)
        return done

    def _accept(self, record: dict, edits: dict[str, Any]) -> Tag:
        proposal = {**(record.get("proposal") or {}), **{k: v for k, v in edits.items() if v is not None}}
        library = self.project.library
        label = str(proposal.get("label") or "").strip()
        if not label:
            raise InputError("an accepted tag needs a label", field="label")
        tag_id = str(proposal.get("id") or "").strip() or _unique(slug(label), library)
        if tag_id in library:
            raise InputError(f"tag {tag_id!r} exists already: give the new tag another id", field="id")
        parent = proposal.get("parent") or None
        if parent is not None and parent not in library:
            raise InputError(f"unknown parent {parent!r}", field="parent")
        aliases = tuple(a.strip() for a in proposal.get("aliases") or [] if isinstance(a, str) and a.strip())
        evidence = [e["id"] for e in record["evidence"]]
        meta = {"discovered": {"key": record["key"], "evidence": evidence, "accepted_at": _now()}}
        tag = Tag(tag_id, label, aliases, str(proposal.get("description") or "").strip(), parent, meta=meta)
        check_tag(tag)
        self.project.add_tags([tag])
        # the evidence contents carry the new tag from now on: curator-accepted examples (``meta.discovered``)
        self.project.learn([KnowledgeItem.feedback(e["text"], [tag.id], [], e["id"]) for e in record["evidence"]])
        return tag


def _drop_cut_line(path: Path) -> None:
    """A last line a kill cut short is removed, so the next record starts a line of its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def _unique(base: str, library: TagLibrary) -> str:
    candidate, n = base, 1
    while candidate in library:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _overlap(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    return len(set(a) & set(b)) / min(len(set(a)), len(set(b)))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_report(path: Path, records: list[dict], library: TagLibrary) -> None:
    """A short Markdown report of the proposals: what a curator reads first."""
    status = Counter(r["status"] for r in records)
    lines = [
        "# Missing tags: proposals",
        "",
        f"{len(records)} groups of poorly covered contents: " + ", ".join(f"{n} {s}" for s, n in status.most_common()),
        f"LLM time: {sum(r['llm_seconds'] for r in records):.1f} s.",
        "",
    ]
    for r in sorted(records, key=lambda r: (r["status"] != "proposed", -r["size"])):
        p = r.get("proposal") or {}
        title = p.get("label") or "(no new tag)"
        lines.append(f"## {title} ({r['status']}, {r['size']} contents)")
        if p.get("description"):
            lines.append(f"\n{p['description']}")
        if r.get("duplicate_of"):
            lines.append(f"\nDuplicates `{r['duplicate_of']}` (by {r.get('duplicate_by')}).")
        if p.get("parent"):
            parent = library.get(p["parent"])
            lines.append(f"\nUnder: {parent.label if parent else p['parent']}")
        today = ", ".join(f"{library[t].label if t in library else t} ({n})" for t, n in r["tagged_today"].items())
        lines.append(f"\nTagged today: {today or 'nothing'}")
        lines.append("\nEvidence:")
        lines += [f"- `{e['id']}`: {e['snippet']}" for e in r["evidence"]]
        lines.append("")
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
