"""Knowledge-enhanced tag generation: the LLM picks tags from the recalled candidates.

The model sees the content, the candidates (by display name, not id), similar
annotated examples and notes; its answer is constrained to the candidate
names where the backend allows (JSON schema with an ``enum``) and always
validated: a tag outside the library never comes out. Near-miss names are
mapped back to a candidate (counted) or dropped (counted).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from llm4tag.generation.prompts import PromptTemplate
from llm4tag.generation.settings import GenerationConfig  # noqa: F401 - re-exported
from llm4tag.library.tags import normalize_label
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend


@dataclass
class Example:
    text: str
    tag_ids: list[str]


@dataclass
class Selection:
    """What the LLM chose for one content, after validation."""

    tag_ids: list[str]
    raw: str = ""
    invalid: int = 0  # answers that matched no candidate (dropped)
    mapped: int = 0  # near-miss answers mapped back to a candidate
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def trim(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """Rough prompt size (about 3.5 characters per token for English and code), for the budget only."""
    return int(sum(len(m["content"]) for m in messages) / 3.5) + 8 * len(messages)


def selection_schema(names: list[str], max_tags: int) -> dict:
    return {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string", "enum": names}, "maxItems": max_tags}},
        "required": ["tags"],
    }


def parse_answer(raw: str) -> list[str]:
    """Names in a model's answer: the JSON ``tags`` list if there is one, else quoted strings or lines."""
    match = re.search(r"\{.*\}", raw, re.S)
    if match:
        try:
            data = json.loads(match.group(0))
            tags = data.get("tags") if isinstance(data, dict) else None
            if isinstance(tags, list):
                return [str(t) for t in tags]
        except json.JSONDecodeError:
            pass
    quoted = re.findall(r'"([^"\n]+)"', raw)
    if quoted:
        return [q for q in quoted if q.lower() != "tags"]
    return [line.strip(" -*•\t") for line in re.split(r"[\n;]", raw) if line.strip(" -*•\t")]


def map_names(answers: list[str], name_to_id: dict[str, str]) -> tuple[list[str], int, int]:
    """Map answered names back to candidate tag ids: exact, normalized, then close matches."""
    normalized = {normalize_label(name): tag_id for name, tag_id in name_to_id.items()}
    chosen: list[str] = []
    invalid = mapped = 0
    for answer in answers:
        tag_id = name_to_id.get(answer)
        if tag_id is None:
            key = normalize_label(answer)
            tag_id = normalized.get(key)
            if tag_id is None:
                close = difflib.get_close_matches(key, list(normalized), n=1, cutoff=0.85)
                if close:
                    tag_id = normalized[close[0]]
                    mapped += 1
        if tag_id is None:
            invalid += 1
        elif tag_id not in chosen:
            chosen.append(tag_id)
    return chosen, invalid, mapped


class TagGenerator:
    """Builds selection prompts and turns the LLM's answers into validated tag ids."""

    def __init__(
        self,
        llm: LLMBackend | None,
        template: PromptTemplate,
        display_names: dict[str, str],
        config: GenerationConfig | None = None,
    ) -> None:
        self.llm = llm
        self.template = template
        self.display_names = display_names
        self.config = config or GenerationConfig()

    def build_request(
        self, text: str, candidate_ids: list[str], examples: list[Example], notes: list[str]
    ) -> tuple[ChatRequest, dict[str, str]]:
        cfg = self.config
        candidate_ids = candidate_ids[: cfg.candidates]
        name_to_id = {self.display_names[t]: t for t in candidate_ids}
        shown = [
            {
                "text": trim(ex.text, cfg.max_example_chars),
                "names": [self.display_names[t] for t in ex.tag_ids if t in self.display_names],
            }
            for ex in examples[: cfg.examples]
        ]
        while True:
            messages = self.template.messages(
                content=trim(text, cfg.max_content_chars),
                candidates=[{"name": self.display_names[t]} for t in candidate_ids],
                examples=shown,
                notes=notes[: cfg.notes],
                max_tags=cfg.max_tags,
            )
            if not shown or estimate_tokens(messages) <= cfg.prompt_token_budget:
                break
            shown = shown[:-1]
        schema = None
        if cfg.constrained and self.llm is not None and self.llm.supports_json_schema and name_to_id:
            schema = selection_schema(list(name_to_id), cfg.max_tags)
        request = ChatRequest(messages=messages, max_tokens=cfg.max_new_tokens, temperature=0.0, json_schema=schema)
        return request, name_to_id

    def interpret(self, result: ChatResult, name_to_id: dict[str, str]) -> Selection:
        chosen, invalid, mapped = map_names(parse_answer(result.text), name_to_id)
        return Selection(
            tag_ids=chosen[: self.config.max_tags],
            raw=result.text,
            invalid=invalid,
            mapped=mapped,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            seconds=result.seconds,
        )

    def select(
        self,
        texts: list[str],
        candidates: list[list[str]],
        examples: list[list[Example]],
        notes: list[list[str]],
        on_done=None,
    ) -> list[Selection]:
        """One LLM call per content (batched through the backend's bounded concurrency)."""
        built = [self.build_request(t, c, e, n) for t, c, e, n in zip(texts, candidates, examples, notes)]
        results = self.llm.chat_batch([request for request, _ in built], on_done=on_done)
        selections = []
        for (_, name_to_id), result, note_list in zip(built, results, notes):
            selection = self.interpret(result, name_to_id) if name_to_id else Selection([])
            selection.notes = note_list
            selections.append(selection)
        return selections
