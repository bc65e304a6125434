"""OpenRefine's reconciliation service (W3C Reconciliation Service API 0.2): every request sent and response
received here is validated against the protocol's own JSON Schemas (vendored in tests/data/reconciliation-0.2
with their licence), and the spec's valid and invalid examples are checked to be read by these schemas as the
spec says. The forms OpenRefine sends are exercised: ``queries=`` as form data, GET with ``queries`` in the
query string, the JSONP ``callback`` form, suggest, preview and data extension.

The recall stage, the store and the service are real; the embedder is the tests' hashing one.
"""

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7
from tests.conftest import LOOPBACK, debtags_project, recall_only_project

from llm4tag.corpus import Document
from llm4tag.project import Project
from llm4tag.service import create_app

SPEC = Path(__file__).parent / "data" / "reconciliation-0.2"
TTL = Path(__file__).parent / "data" / "vocab.ttl"
EXAMPLES = {  # the spec's example folders and the schema each is written for
    "manifest": "manifest",
    "reconciliation-query-batch": "reconciliation-query-batch",
    "reconciliation-result-batch": "reconciliation-result-batch",
    "suggest-entities-response": "suggest-entities-response",
    "suggest-types-response": "suggest-types-response",
    "suggest-properties-response": "suggest-properties-response",
    "data-extension-query": "data-extension-query",
    "data-extension-response": "data-extension-response",
    "data-extension-property-proposal": "data-extension-property-proposal",
}


def _registry() -> Registry:
    resources = []
    for path in (SPEC / "schemas").glob("*.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"].rstrip("#"), DRAFT7.create_resource(contents)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validator(name: str) -> Draft7Validator:
    schema = json.loads((SPEC / "schemas" / f"{name}.json").read_text(encoding="utf-8"))
    return Draft7Validator(schema, registry=REGISTRY)


def check(name: str, instance) -> None:
    errors = sorted(validator(name).iter_errors(instance), key=str)
    assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.mark.parametrize("folder", sorted(EXAMPLES))
def test_the_vendored_schemas_read_the_specs_examples_as_the_spec_says(folder):
    seen = 0
    for verdict in ("valid", "invalid"):
        for path in sorted((SPEC / "examples" / folder / verdict).glob("*.json")):
            instance = json.loads(path.read_text(encoding="utf-8"))
            valid = validator(EXAMPLES[folder]).is_valid(instance)
            assert valid == (verdict == "valid"), f"{path.name} should be {verdict}"
            seen += 1
    assert seen


# -- a debtags project (facets, no hierarchy) -------------------------------------------------------
@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("reconcile") / "p")


@pytest.fixture
def client(project_dir):
    with Project.open(project_dir) as project, TestClient(create_app(project), base_url=LOOPBACK) as test_client:
        test_client.project = project
        test_client.base = f"/v1/projects/{project.config.name}/reconcile"
        yield test_client


def reconcile(client, queries: dict, *, method: str = "post") -> dict:
    check("reconciliation-query-batch", queries)
    if method == "post":
        response = client.post(client.base, data={"queries": json.dumps(queries)})
    else:
        response = client.get(client.base, params={"queries": json.dumps(queries)})
    assert response.status_code == 200, response.text
    body = response.json()
    check("reconciliation-result-batch", body)
    assert set(body) == set(queries)
    return body


LONG_TEXT = (
    "A small daemon that monitors network interfaces and logs traffic statistics to syslog, with a command"
    " line tool to show them"
)


def test_the_manifest_describes_the_service(client):
    response = client.get(client.base)
    assert response.status_code == 200
    manifest = response.json()
    check("manifest", manifest)
    assert manifest["versions"] == ["0.2"]
    facets = {t.meta["facet"] for t in client.project.library}
    assert {t["id"] for t in manifest["defaultTypes"]} == facets  # debtags has facets, no hierarchy
    assert manifest["batchSize"] == client.project.config.service.max_batch
    for service in ("suggest", "preview", "extend", "view"):
        assert service in manifest
    assert "{{id}}" in manifest["preview"]["url"]


def test_keywords_match_labels_spelling_and_ids(client):
    library = client.project.library
    label = library["devel::lang:python"].label
    body = reconcile(
        client,
        {
            "exact": {"query": label},
            "typo": {"query": label.replace("Python", "Pyhton")},
            "id": {"query": "devel::lang:python"},
            "ambiguous": {"query": "XML"},  # two tags are labelled XML: no automatic match
            "limited": {"query": "game", "limit": 3},
        },
    )
    for key in ("exact", "id"):
        assert body[key]["result"][0]["id"] == "devel::lang:python", key
    # by spelling, the misspelt label is nearest its tag (its meaning is the test embedder's hashing of words;
    # the real embedder's ranking is measured in docs/benchmarks.md)
    spelling = {c["id"]: {f["id"]: f["value"] for f in c["features"]}["spelling"] for c in body["typo"]["result"]}
    assert max(spelling, key=spelling.get) == "devel::lang:python"
    assert body["exact"]["result"][0]["match"] is True and body["exact"]["result"][0]["score"] == 100
    assert body["id"]["result"][0]["match"] is True
    assert not body["typo"]["result"][0]["match"] or body["typo"]["result"][0]["score"] >= 90
    xml = [c for c in body["ambiguous"]["result"] if c["name"] == "XML"]
    assert len(xml) >= 2 and not any(c["match"] for c in body["ambiguous"]["result"])
    assert len(body["limited"]["result"]) == 3
    for result in body.values():
        scores = [c["score"] for c in result["result"]]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 100 for s in scores)
        assert sum(c["match"] for c in result["result"]) <= 1  # OpenRefine auto-matches one candidate


def test_a_long_text_gets_the_pipelines_suggestions_with_their_calibrated_confidence(client):
    tagged = client.post("/v1/tag", json={"text": LONG_TEXT}).json()
    body = reconcile(client, {"q0": {"query": LONG_TEXT, "limit": 5}})
    candidates = body["q0"]["result"]
    assert candidates and len(candidates) <= 5
    ranked = {t["tag_id"]: t["score"] for t in tagged["tags"]}
    top = candidates[0]
    assert top["id"] == tagged["tags"][0]["tag_id"]
    assert top["score"] == pytest.approx(100 * ranked[top["id"]], abs=0.01)
    features = {f["id"]: f["value"] for f in top["features"]}
    assert top["match"] == (features["kept"] and features["confidence"] >= 0.8)
    assert not any(c["match"] for c in candidates[1:])


def test_get_and_post_forms_answer_alike_and_types_restrict_to_a_branch(client):
    queries = {"a": {"query": "gtk"}, "b": {"query": "network", "type": "network", "limit": 4}}
    by_post, by_get = reconcile(client, queries), reconcile(client, queries, method="get")
    assert by_post == by_get
    library = client.project.library
    assert by_post["b"]["result"] and all(library[c["id"]].meta["facet"] == "network" for c in by_post["b"]["result"])
    assert all(
        c["type"] == [{"id": "network", "name": library[c["id"]].meta["facet_label"]}] for c in by_post["b"]["result"]
    )
    both = reconcile(client, {"q": {"query": "network", "type": ["network", "use"], "type_strict": "all"}})
    assert both["q"]["result"] == []  # no tag is in two facets


def test_jsonp_and_cors_as_the_protocol_asks_and_nothing_opened_beyond_it(client):
    queries = json.dumps({"q0": {"query": "gtk"}})
    response = client.get(
        f"{client.base}?queries={quote(queries)}&callback=jQuery123_456", headers={"Origin": "http://x.org"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["access-control-allow-origin"] == "*"
    text = response.text
    assert text.startswith("/**/jQuery123_456(") and text.endswith(");")
    check("reconciliation-result-batch", json.loads(text[len("/**/jQuery123_456(") : -2]))
    assert client.get(client.base, params={"callback": "alert(1)//"}).status_code == 400
    preflight = client.options(client.base, headers={"Origin": "http://x.org", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    for path in ("/v1/tag", "/v1/feedback", "/v1/tags"):  # the rest of the service stays same-origin
        other = client.options(path, headers={"Origin": "http://x.org", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in other.headers
    tagged = client.post("/v1/tag", json={"text": "chess"}, headers={"Origin": "http://x.org"})
    assert "access-control-allow-origin" not in tagged.headers


def test_bad_batches_get_clear_errors(client):
    for path in sorted((SPEC / "examples" / "reconciliation-query-batch" / "invalid").glob("*.json")):
        response = client.post(client.base, data={"queries": path.read_text(encoding="utf-8")})
        assert response.status_code == 400, path.name
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"]
    assert "not valid JSON" in client.post(client.base, data={"queries": "{"}).json()["detail"]
    assert "limit" in client.post(client.base, data={"queries": '{"q": {"query": "a", "limit": 0}}'}).json()["detail"]
    too_many = {f"q{i}": {"query": "chess"} for i in range(client.project.config.service.max_batch + 1)}
    assert client.post(client.base, data={"queries": json.dumps(too_many)}).status_code == 413
    assert client.post(client.base, data={}).status_code == 400
    assert client.get("/v1/projects/nope/reconcile").status_code == 404


def test_suggest_preview_and_data_extension(client):
    found = client.get(f"{client.base}/suggest/entity", params={"prefix": "pyth"}).json()
    check("suggest-entities-response", found)
    assert found["result"][0]["id"] == "devel::lang:python"
    by_id = client.get(f"{client.base}/suggest/entity", params={"prefix": "devel::lang:pyth"}).json()
    assert by_id["result"][0]["id"] == "devel::lang:python"
    first = client.get(f"{client.base}/suggest/entity", params={"prefix": "a"}).json()["result"]
    then = client.get(f"{client.base}/suggest/entity", params={"prefix": "a", "cursor": 10}).json()["result"]
    assert len(first) == 10 and first[-1] != then[0]
    types = client.get(f"{client.base}/suggest/type", params={"prefix": "netw"}).json()
    check("suggest-types-response", types)
    assert {"id": "network", "name": client.project.library["network::server"].meta["facet_label"]} in types["result"]

    preview = client.get(f"{client.base}/preview", params={"id": "devel::lang:python"})
    assert preview.status_code == 200 and preview.headers["content-type"].startswith("text/html")
    assert "Python Development" in preview.text and "Software Development" in preview.text
    assert client.get(f"{client.base}/preview", params={"id": "nope"}).status_code == 404

    proposal = client.get(f"{client.base}/properties", params={"type": "devel", "limit": 3}).json()
    check("data-extension-property-proposal", proposal)
    assert len(proposal["properties"]) == 3
    query = {"ids": ["devel::lang:python", "network::server"], "properties": [{"id": "description"}, {"id": "path"}]}
    check("data-extension-query", query)
    extended = client.post(client.base, data={"extend": json.dumps(query)}).json()
    check("data-extension-response", extended)
    description = client.project.library["network::server"].description
    assert extended["rows"]["network::server"]["description"] == ([{"str": description}] if description else [])
    assert (
        client.post(client.base, data={"extend": '{"ids": ["x"], "properties": [{"id": "nope"}]}'}).status_code == 400
    )


def test_a_label_with_markup_is_text_in_the_preview(client):
    added = client.post(
        "/v1/tags", json={"id": "x::script", "label": "<script>alert(1)</script>", "description": "<b>bold</b> & co"}
    )
    assert added.status_code == 201
    preview = client.get(f"{client.base}/preview", params={"id": "x::script"}).text
    assert "<script>" not in preview and "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    assert "<b>" not in preview and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in preview
    found = reconcile(client, {"q": {"query": "<script>alert(1)</script>"}})
    assert found["q"]["result"][0]["id"] == "x::script"


# -- a SKOS vocabulary in two languages, with a hierarchy -----------------------------------------------
@pytest.fixture(scope="module")
def skos_client(tmp_path_factory):
    contents = [
        Document("c1", "captures network packets on the wire", ["http://example.org/vocab/sniffer"]),
        Document("c2", "a network protocol analyser for packets", ["http://example.org/vocab/sniffer"]),
        Document("c3", "play chess against the computer", ["http://example.org/vocab/chess"]),
    ]
    directory = recall_only_project(tmp_path_factory.mktemp("skos") / "p", TTL, contents, name="vocab")
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as test_client:
        test_client.project = project
        test_client.base = "/v1/projects/vocab/reconcile"
        yield test_client


def test_types_are_the_hierarchys_branches_and_names_answer_in_every_language(skos_client):
    manifest = skos_client.get(skos_client.base).json()
    check("manifest", manifest)
    assert manifest["identifierSpace"] == "http://example.org/vocab/"
    networking, games = "http://example.org/vocab/networking", "http://example.org/vocab/games"
    assert {t["id"] for t in manifest["defaultTypes"]} == {networking, games}
    body = reconcile(
        skos_client,
        {
            "fi": {"query": "Tietoverkot"},  # the Finnish label
            "fi-alias": {"query": "Verkkotyökalut"},  # a Finnish alias
            "branch": {"query": "chess", "type": networking},
        },
    )
    assert body["fi"]["result"][0]["id"] == networking and body["fi"]["result"][0]["match"]
    assert body["fi-alias"]["result"][0]["id"] == networking
    assert all(networking in {t["id"] for t in c["type"]} or c["id"] == networking for c in body["branch"]["result"])
    query = {"q": {"query": "Networking"}}
    check("reconciliation-query-batch", query)
    in_finnish = skos_client.post(skos_client.base + "?language=fi", data={"queries": json.dumps(query)}).json()
    check("reconciliation-result-batch", in_finnish)
    assert in_finnish["q"]["result"][0]["name"] == "Tietoverkot"
    sniffer = skos_client.get(skos_client.base + "/preview", params={"id": "http://example.org/vocab/sniffer"}).text
    assert "Networking" in sniffer and "Packet sniffers" in sniffer  # its path, then its label
