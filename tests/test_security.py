"""What a hostile page or file can make the service or the loaders do: DNS rebinding, stored script in the web
page, a vocabulary that reaches out to the network or expands entities (docs/reliability.md, "Security")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project

from llm4tag.config import ProjectConfig, ServiceConfig
from llm4tag.errors import InputError
from llm4tag.library.loaders import load_tag_library
from llm4tag.project import Project
from llm4tag.service import create_app

TEXT = "A small daemon that monitors network interfaces and logs traffic statistics to syslog."


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("security") / "p", train=150)


# -- DNS rebinding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "attacker.test:8080", ""])
def test_an_open_loopback_service_refuses_a_host_header_that_is_not_a_loopback_name(built, host):
    with Project.open(built) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        headers = {"Host": host}
        assert client.post("/v1/tags", json={"id": "x::y", "label": "X"}, headers=headers).status_code == 403
        assert client.get("/v1/review", headers=headers).status_code == 403
        assert client.post("/v1/tag", json={"text": TEXT}, headers=headers).status_code == 403
        assert "x::y" not in project.library


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "LOCALHOST:80", "[::1]:8080", "127.0.0.1"])
def test_loopback_names_are_served(built, host):
    with Project.open(built) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        assert client.post("/v1/tag", json={"text": TEXT}, headers={"Host": host}).status_code == 200


def test_allowed_hosts_names_the_hosts_served_and_a_star_serves_any(built):
    with Project.open(built) as project:
        named = ServiceConfig(allowed_hosts=["tagger.internal"])
        with TestClient(create_app(project, named), base_url="http://tagger.internal") as client:
            assert client.get("/v1/tags").status_code == 200
            assert client.get("/v1/tags", headers={"Host": "localhost"}).status_code == 403
        with TestClient(create_app(project, ServiceConfig(allowed_hosts=["*"])), base_url="http://any.name") as c:
            assert c.get("/v1/tags").status_code == 200


# -- the web page ----------------------------------------------------------------------------------------
def test_the_project_name_is_escaped_and_the_page_allows_no_inline_script(built, tmp_path):
    import shutil

    directory = Path(shutil.copytree(built, tmp_path / "copy"))
    config = ProjectConfig.load(directory)
    config.name = "</title><script>alert(document.domain)</script>"
    config.save(directory)
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        page = client.get("/")
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(document.domain)&lt;/script&gt;" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "<script>" not in page.text  # every script is a file the policy allows
        script = client.get("/static/app.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert "localStorage" not in script.text  # the key lives as long as the tab, not on disk


# -- vocabularies that reach out ---------------------------------------------------------------------------
SKOS_CONCEPT = {
    "@id": "http://example.org/c1",
    "@type": "http://www.w3.org/2004/02/skos/core#Concept",
    "http://www.w3.org/2004/02/skos/core#prefLabel": "Chess",
}


@pytest.mark.parametrize(
    "context",
    [
        "http://127.0.0.1:9/context.jsonld",
        "file:///etc/passwd",
        ["https://schema.org/", {"skos": "http://www.w3.org/2004/02/skos/core#"}],
        {"@import": "http://127.0.0.1:9/ctx.jsonld"},
    ],
)
def test_a_json_ld_vocabulary_whose_context_would_be_fetched_is_refused(tmp_path, context):
    path = tmp_path / "vocab.jsonld"
    path.write_text(json.dumps({"@context": context, "@graph": [SKOS_CONCEPT]}), encoding="utf-8")
    with pytest.raises(InputError, match="would be fetched"):
        load_tag_library(path)


def test_a_json_ld_vocabulary_with_an_inline_context_loads(tmp_path):
    path = tmp_path / "vocab.jsonld"
    context = {"skos": "http://www.w3.org/2004/02/skos/core#"}
    concept = {"@id": "http://example.org/c1", "@type": "skos:Concept", "skos:prefLabel": "Chess"}
    path.write_text(json.dumps({"@context": context, "@graph": [concept]}), encoding="utf-8")
    assert [t.label for t in load_tag_library(path)] == ["Chess"]


def test_rdf_xml_with_entity_declarations_is_refused_at_once(tmp_path):
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    path = tmp_path / "bomb.rdf"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY l0 "lol">{lol}]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns:skos="http://www.w3.org/2004/02/skos/core#">'
        '<skos:Concept rdf:about="http://example.org/c1"><skos:prefLabel>&l9;</skos:prefLabel></skos:Concept>'
        "</rdf:RDF>",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="declares XML entities"):  # refused before any expansion
        load_tag_library(path)
