"""The web UI in a real headless browser (Debian's chromium + chromedriver, driven by selenium):
tag a pasted text, mark tags right/wrong, add one, send feedback, work the review queue, and check the
store got exactly that feedback."""

import os
import shutil
import tempfile

import pytest
from tests.conftest import debtags_project
from tests.test_service import TEXT, start_server

from llm4tag.store.sqlite import SQLiteStore

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (scripts/test.sh installs them)",
)


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="llm4tag-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def test_tag_give_feedback_and_review_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    directory = debtags_project(tmp_path / "p", review_below=1.01)
    process, url = start_server(directory)
    try:
        browser.get(url + "/")
        assert "llm4tag" in browser.title
        browser.find_element(By.ID, "text").send_keys(TEXT)
        browser.find_element(By.ID, "tag-button").click()
        rows = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tags .row"))
        tags = [row.get_attribute("data-tag") for row in rows]
        assert len(tags) >= 2
        assert browser.find_elements(By.CSS_SELECTOR, "#candidates tr")  # candidates with their paths
        assert (
            "C2C2T" in browser.find_element(By.ID, "candidates").text
            or "C2T" in browser.find_element(By.ID, "candidates").text
        )
        rows[0].find_element(By.CLASS_NAME, "accept").click()
        browser.find_elements(By.CSS_SELECTOR, "#tags .row")[1].find_element(By.CLASS_NAME, "reject").click()
        browser.find_element(By.ID, "add-tag").send_keys("use::monitor")
        browser.find_element(By.ID, "add-button").click()
        assert "use::monitor" in [
            r.get_attribute("data-tag") for r in browser.find_elements(By.CSS_SELECTOR, "#tags .row")
        ]
        browser.find_element(By.ID, "send-feedback").click()
        wait_for(browser, lambda d: "Feedback stored" in d.find_element(By.ID, "status").text)

        # the review queue: confirm one item from the browser
        browser.find_element(By.ID, "review-tab").click()
        items = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#review .review-item"))
        reviewed = items[0].get_attribute("data-tag"), items[0].get_attribute("data-content")
        before = len(items)
        items[0].find_element(By.CLASS_NAME, "accept").click()
        wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#review .review-item")) == before - 1)
    finally:
        process.terminate()
        process.wait()
    store = SQLiteStore(directory / "store.sqlite")
    knowledge = store.knowledge(["correction", "example"])
    correction = next(k for k in knowledge if k.kind == "correction")
    assert correction.rejected == [tags[1]]
    assert set(correction.tags) == {tags[0], "use::monitor"}
    assert any(k.content_id == reviewed[1] and reviewed[0] in k.tags for k in knowledge if k is not correction)
    store.close()


VOCABULARY = """@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix v: <http://example.org/vocab/> .
v:networking a skos:Concept ; skos:prefLabel "Networking"@en, "Tietoverkot"@fi .
v:sniffer a skos:Concept ; skos:broader v:networking ;
    skos:prefLabel "Packet sniffers"@en, "<script>window.pwned = 1</script><b>Haistelijat</b>"@fi .
v:games a skos:Concept ; skos:prefLabel "Games"@en, "Pelit"@fi .
v:chess a skos:Concept ; skos:broader v:games ; skos:prefLabel "Chess"@en .
"""


def test_suggestions_under_their_parents_with_evidence_and_labels_as_text(browser, tmp_path):
    """A SKOS vocabulary in two languages: the UI shows each tag under its parents in the chosen language, a
    click on a tag shows its evidence, and a label holding markup is shown as text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from tests.conftest import recall_only_project

    from llm4tag.corpus import Document
    from llm4tag.corpus.knowledge import KnowledgeItem
    from llm4tag.project import Project

    vocabulary = tmp_path / "vocab.ttl"
    vocabulary.write_text(VOCABULARY, encoding="utf-8")
    sniffer = "http://example.org/vocab/sniffer"
    contents = [
        Document("pcap-tool", "captures network packets on the wire", [sniffer]),
        Document("analyser", "a network protocol analyser for packets", [sniffer]),
        Document("chess-gui", "play chess against the computer", ["http://example.org/vocab/chess"]),
    ]
    directory = recall_only_project(tmp_path / "p", vocabulary, contents, name="vocab")
    with Project.open(directory) as project:  # one example an LLM wrote (llm4tag synthesize): shown as such
        written = KnowledgeItem("example", "synthetic:sniffer:1", "sniffs network packets and captures them all",
                                [sniffer], synthetic={"for_tag": sniffer, "model": "fake"})  # fmt: skip
        project.learn([written])
        project.index()
    process, url = start_server(directory)
    try:
        browser.get(url + "/")
        select = Select(wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#language:not(.hidden)")))
        select.select_by_value("fi")
        browser.find_element(By.ID, "text").send_keys("sniffs network packets and captures them")
        browser.find_element(By.ID, "tag-button").click()
        row = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#tags .row[data-tag="{sniffer}"]'))[0]
        branch = row.find_element(By.XPATH, "./ancestor::div[contains(@class, 'branch')]")
        assert branch.find_element(By.CLASS_NAME, "branch-path").text == "Tietoverkot ›"  # under its parent, in Finnish
        name = row.find_element(By.CLASS_NAME, "tag-name")
        assert "<script>window.pwned = 1</script><b>Haistelijat</b>" in name.text  # the markup, as text
        assert not browser.find_elements(By.CSS_SELECTOR, "#tags b, #tags script")
        assert browser.execute_script("return window.pwned === undefined")

        evidence = browser.find_element(By.CSS_SELECTOR, f'.evidence[data-evidence="{sniffer}"]')
        assert not evidence.is_displayed()
        name.click()
        assert evidence.is_displayed()
        text = evidence.text
        assert "Words that drove it" in text and "LLM did not judge it" in text
        assert "pcap-tool" in text or "analyser" in text  # the annotated neighbours that voted, by id
        made = evidence.find_elements(By.CSS_SELECTOR, "span.synthetic")  # the LLM's example, marked as written by it
        assert len(made) == 1 and made[0].text == "synthetic"
        assert "synthetic:sniffer:1" in made[0].find_element(By.XPATH, "./parent::li").text
    finally:
        process.terminate()
        process.wait()


def test_missing_tags_page_lists_accepts_and_rejects_proposals(browser, tmp_path):
    """The proposals of ``llm4tag discover`` in the browser: listed with their evidence; one edited and
    accepted (the tag joins the library with its examples), one rejected (remembered)."""
    from selenium.webdriver.common.by import By
    from tests.conftest import TINY_CONTENTS, TINY_TAGS, recall_only_project
    from tests.test_discovery import SETTINGS, new_contents

    from llm4tag.corpus import Document
    from llm4tag.discovery import Discovery
    from llm4tag.discovery.naming import WordsProposer
    from llm4tag.library.tags import Tag
    from llm4tag.project import Project

    tags = [Tag(t["id"], t["label"], tuple(t.get("aliases", ())), t["description"]) for t in TINY_TAGS]
    contents = [Document(c["id"], c["text"], c["tags"]) for c in TINY_CONTENTS]
    recall_only_project(tmp_path / "p", tags, contents, name="tiny")
    with Project.open(tmp_path / "p") as project:
        Discovery(project, WordsProposer(), SETTINGS).run(tmp_path / "proposals.jsonl", new_contents())
        keys = [r["key"] for r in Discovery(project, None).proposals() if r["status"] == "proposed"]
    assert len(keys) >= 2
    process, url = start_server(tmp_path / "p")
    try:
        browser.get(url + "/")
        browser.find_element(By.ID, "missing-tab").click()
        items = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#proposals .proposal"))
        assert {i.get_attribute("data-key") for i in items} == set(keys)
        first, second = items[0], items[1]
        accepted, rejected = first.get_attribute("data-key"), second.get_attribute("data-key")
        assert first.find_elements(By.CSS_SELECTOR, "li code")  # the evidence, by content id
        label = first.find_element(By.CLASS_NAME, "label")
        label.clear()
        label.send_keys("Curated name")
        first.find_element(By.CLASS_NAME, "accept").click()
        wait_for(browser, lambda d: "added with" in d.find_element(By.ID, "status").text)
        second.find_element(By.CLASS_NAME, "reject").click()
        wait_for(browser, lambda d: "Rejected" in d.find_element(By.ID, "status").text)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#proposals .proposal")) == len(keys) - 2
    finally:
        process.terminate()
        process.wait()
    with Project.open(tmp_path / "p") as project:
        tag = next(t for t in project.library if t.label == "Curated name")
        assert tag.meta["discovered"]["key"] == accepted
        evidence = project.store.get_contents(tag.meta["discovered"]["evidence"])
        assert evidence and all(tag.id in d.tags for d in evidence)
        decisions = Discovery(project, None).decisions()
        assert [r["key"] for r in decisions["rejected"]] == [rejected]
