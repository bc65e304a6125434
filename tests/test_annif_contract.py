"""Annif's own OpenAPI document (tests/data/annif.yaml, vendored unchanged) held against the Annif-compatible endpoints.

Each exchange is validated with openapi-core: the request must be one Annif's spec allows, and the response
(status, content type, body schema) must be one it promises, so Annif clients work unchanged. Behaviour that
the schema cannot express (an empty text gets no suggestions, a wrong language is refused) is asserted directly.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, TEST_DATA, debtags_project

from llm4tag.project import Project
from llm4tag.service import create_app

SPEC = TEST_DATA / "annif.yaml"
TEXT = "A small daemon that monitors network interfaces and logs traffic statistics to syslog."

openapi_core = pytest.importorskip("openapi_core", reason="the contract test needs openapi-core (extra [dev])")


@pytest.fixture(scope="module")
def spec():
    import json

    from openapi_core import Config

    # RFC 7807 bodies are JSON: openapi-core needs to be told how to read that media type
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return openapi_core.OpenAPI.from_file_path(str(SPEC), config=config)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    directory = debtags_project(tmp_path_factory.mktemp("annif") / "p", train=150, name="debtags-test")
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as test_client:
        yield test_client


def exchange(spec, client, method: str, path: str, *, form=None, json=None, query=None, pattern=None):
    """Send a request, check it and its response against Annif's spec, return the response."""
    from openapi_core.testing import MockRequest, MockResponse

    if form is not None:
        body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
    elif json is not None:
        import json as json_module

        body, content_type = json_module.dumps(json).encode(), "application/json"
    else:
        body, content_type = None, "application/json"
    url = path + ("?" + urlencode(query) if query else "")
    response = client.request(method, url, content=body, headers={"content-type": content_type} if body else {})
    view_args = {"project_id": path.split("/")[3]} if pattern else None
    request = MockRequest("http://testserver", method.lower(), path, path_pattern=pattern, args=query or {},
                          view_args=view_args, data=body, content_type=content_type)  # fmt: skip
    if response.status_code < 400:
        spec.validate_request(request)
    if response.status_code == 204:  # Annif's spec lists a JSON content for learn's 204, but Annif sends no body
        assert not response.content
        return response
    mock = MockResponse(
        response.content, response.status_code, content_type=response.headers.get("content-type", "application/json")
    )
    spec.validate_response(request, mock)
    return response


def test_information_vocabularies_and_projects(spec, client):
    assert exchange(spec, client, "GET", "/v1/").json()["title"]
    [vocab] = exchange(spec, client, "GET", "/v1/vocabs").json()["vocabs"]
    assert vocab["languages"] == ["en"] and vocab["size"] == 572
    [project] = exchange(spec, client, "GET", "/v1/projects").json()["projects"]
    assert project["project_id"] == "debtags-test" and project["language"] == "en"
    shown = exchange(spec, client, "GET", "/v1/projects/debtags-test", pattern="/v1/projects/{project_id}")
    assert shown.json() == project
    missing = exchange(spec, client, "GET", "/v1/projects/nope", pattern="/v1/projects/{project_id}")
    assert missing.status_code == 404


def test_suggest_and_its_errors(spec, client):
    pattern = "/v1/projects/{project_id}/suggest"
    path = "/v1/projects/debtags-test/suggest"
    results = exchange(spec, client, "POST", path, form={"text": TEXT, "limit": 3}, pattern=pattern).json()["results"]
    assert 0 < len(results) <= 3
    assert exchange(spec, client, "POST", path, form={"text": ""}, pattern=pattern).json() == {"results": []}
    for bad in ({"text": TEXT, "limit": -1}, {"text": TEXT, "threshold": 2}, {"limit": 3}):
        response = client.post(path, data=bad)  # not a request Annif's spec allows: only the answer is checked
        assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 400 and response.json()["detail"]
    wrong = exchange(spec, client, "POST", path, form={"text": TEXT, "language": "fi"}, pattern=pattern)
    assert wrong.status_code == 400 and "not supported" in wrong.json()["detail"]
    assert exchange(spec, client, "POST", path, form={"text": TEXT, "language": "en"}, pattern=pattern).json()[
        "results"
    ]


def test_suggest_batch_with_an_empty_document(spec, client):
    pattern = "/v1/projects/{project_id}/suggest-batch"
    documents = [{"text": TEXT, "document_id": "a"}, {"text": "", "document_id": "b"}, {"text": "chess game"}]
    response = exchange(
        spec, client, "POST", "/v1/projects/debtags-test/suggest-batch", json={"documents": documents},
        query={"limit": 2}, pattern=pattern,
    )  # fmt: skip
    items = response.json()
    assert [i.get("document_id") for i in items] == ["a", "b", None]
    assert items[0]["results"] and items[1]["results"] == [] and len(items[2]["results"]) <= 2
    bad = client.post("/v1/projects/debtags-test/suggest-batch", json={"docs": []})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


def test_learn(spec, client):
    pattern = "/v1/projects/{project_id}/learn"
    body = [{"text": "a packet sniffer", "subjects": [{"uri": "use::monitor"}]}]
    assert (
        exchange(spec, client, "POST", "/v1/projects/debtags-test/learn", json=body, pattern=pattern).status_code == 204
    )
    unknown = [{"text": "x", "subjects": [{"uri": "no::such"}]}]
    response = client.post("/v1/projects/debtags-test/learn", json=unknown)
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
