"""Property-based fuzzing of the whole HTTP surface and of the file loaders (docs/reliability.md, "Fuzzing").

The service: schemathesis reads the app's own OpenAPI document from a real server and hypothesis generates
requests for every operation, valid and invalid (Unicode edge cases included), against a server with no keys
and one with keys (with the key and without it). The properties: no 5xx and no traceback; every 4xx of the
Annif API is problem+json; the limits (text length, batch size) are enforced on every path that takes a text;
no write without the key where keys are set. The loaders: hypothesis writes tag and corpus files; every one
either loads or fails with one ``InputError`` naming the file. The budget is bounded (``FUZZ_EXAMPLES``
examples per operation and mode, seeded by ``derandomize``), so CI runs the same cases each time.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from tests.conftest import debtags_project, start_server

from llm4tag.errors import InputError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"  # CI runs the same cases each time; FUZZ_RANDOM=1 explores
TEXT_LIMIT, BATCH_LIMIT, KEY = 60, 3, "fuzz-key-0123456789abcdef"
WRITES = {("POST", "/v1/tags"), ("POST", "/v1/feedback"), ("GET", "/v1/review"),
          ("POST", "/v1/tags/{tag_id}/deprecate"), ("POST", "/v1/projects/{project_id}/learn")}  # fmt: skip


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    limits = {"max_text_chars": TEXT_LIMIT, "max_batch": BATCH_LIMIT}
    open_dir = debtags_project(tmp_path_factory.mktemp("fuzz") / "open", train=120, name="fuzz", **limits)
    keyed_dir = debtags_project(tmp_path_factory.mktemp("fuzz") / "keyed", train=120, name="fuzz", api_keys=[KEY],
                                **limits)  # fmt: skip
    started = [start_server(open_dir), start_server(keyed_dir)]
    yield {"open": started[0][1], "keyed": started[1][1]}
    for process, _ in started:
        process.terminate()
        process.wait(timeout=30)


def _texts(value, key=None):
    """Every string under a ``text`` key, and every list of documents, anywhere in a request body."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(v, k)
    elif isinstance(value, list):
        if key in ("documents", None) and len(value) > BATCH_LIMIT and all(isinstance(v, dict) for v in value):
            yield ("batch", len(value))
        for v in value:
            yield from _texts(v, key if key == "documents" else None)
    elif isinstance(value, str) and key == "text":
        yield ("text", len(value))


def _problems(case, response, *, mode: str, path: str) -> list[str]:
    status, body = response.status_code, response.text
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: a list per header
    found = []
    if status >= 500:
        found.append(f"{status}: {body[:200]}")
    if "Traceback" in body:
        found.append("a traceback in the body")
    annif = path.startswith("/v1/projects") or path in ("/v1/", "/v1/vocabs")
    if annif and 400 <= status < 500 and not content_type.startswith("application/problem+json"):
        found.append(f"{status} from the Annif API as {content_type}, not problem+json")
    if 200 <= status < 300:
        over = [what for what, size in _texts(case.body) if (what == "text" and size > TEXT_LIMIT) or what == "batch"]
        if over:
            found.append(f"{status} for a request over the limits ({', '.join(sorted(set(over)))})")
        if mode == "keyed, no key" and (case.method.upper(), path) in WRITES:
            found.append(f"{status}: a write without the key")
    return found


@pytest.mark.parametrize("mode", ["open", "keyed, with key", "keyed, no key"])
def test_no_request_breaks_the_service_or_slips_past_its_limits_and_keys(servers, mode):
    base = servers["open" if mode == "open" else "keyed"]
    headers = {"X-API-Key": KEY} if mode == "keyed, with key" else {}
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    findings: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/tag", "/v1/feedback", "/v1/projects/{project_id}/suggest"}
    for operation in operations:
        for generation in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            findings += _fuzz(operation, generation, base=base, headers=headers, mode=mode)
    assert not findings, "\n".join(sorted(set(findings))[:40])


def _fuzz(operation, generation, *, base: str, headers: dict, mode: str) -> list[str]:
    """Send up to ``EXAMPLES`` generated requests for one operation; what each breaks, as lines."""
    findings = []
    where = f"{generation.value} {operation.method.upper()} {operation.path}"

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=generation))
    def run(case):
        response = case.call(base_url=base, headers=headers, timeout=60)
        for problem in _problems(case, response, mode=mode, path=operation.path):
            detail = f" [{case.media_type} {str(case.body)[:80]!r}]" if os.environ.get("FUZZ_DEBUG") else ""
            findings.append(f"{where}: {problem}{detail}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): the valid cases ran
        assert generation is GenerationMode.NEGATIVE
    return findings


# -- the loaders -----------------------------------------------------------------------------------------
_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
_LINES = st.lists(
    st.one_of(
        st.dictionaries(st.sampled_from(["id", "label", "text", "tags", "aliases", "parent", "description"]),
                        st.one_of(_ANY_TEXT, st.integers(), st.none(), st.lists(_ANY_TEXT, max_size=3)),
                        max_size=6),
        _ANY_TEXT,
    ),
    max_size=8,
)  # fmt: skip


@settings(max_examples=EXAMPLES * 4, deadline=None, derandomize=DERANDOMIZE, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(lines=_LINES, suffix=st.sampled_from([".jsonl", ".csv", ".tsv"]), raw=st.booleans())
def test_a_tag_or_corpus_file_loads_or_fails_with_one_pointed_error(tmp_path_factory, lines, suffix, raw):
    from llm4tag.corpus.loaders import load_corpus
    from llm4tag.library.loaders import load_tag_library

    path = tmp_path_factory.mktemp("loaders") / f"file{suffix}"
    if suffix == ".jsonl":
        body = "".join((line if raw and isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    else:
        sep = "," if suffix == ".csv" else "\t"
        header = sep.join(["id", "label", "text", "tags"])
        rows = [sep.join(str(v) for v in (line.values() if isinstance(line, dict) else [line])) for line in lines]
        body = "\n".join([header, *rows]) + "\n"
    path.write_text(body, encoding="utf-8", errors="surrogatepass" if raw else "strict")
    for load in (load_tag_library, load_corpus):
        try:
            load(path)
        except InputError as error:
            assert str(path) in str(error) and "\n" not in str(error)


@settings(max_examples=EXAMPLES * 2, deadline=None, derandomize=DERANDOMIZE, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(data=st.binary(max_size=200))
def test_bytes_that_are_no_text_fail_with_one_pointed_error(tmp_path_factory, data):
    from llm4tag.corpus.loaders import load_corpus
    from llm4tag.library.loaders import load_tag_library

    path = tmp_path_factory.mktemp("bytes") / "file.jsonl"
    path.write_bytes(data)
    for load in (load_tag_library, load_corpus):
        try:
            load(path)
        except InputError as error:
            assert str(path) in str(error)
