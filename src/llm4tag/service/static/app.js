// The web UI's code, served as a file: the page's Content-Security-Policy allows no inline script.
const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = sessionStorage.getItem("llm4tag-key") || "";
keyInput.addEventListener("change", () => sessionStorage.setItem("llm4tag-key", keyInput.value));
let current = null;          // the last tagging result
const verdict = new Map();   // tag id -> "accept" | "reject" | "add"

function status(message, isError = false) { $("status").textContent = message; $("status").className = isError ? "error" : ""; }

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (keyInput.value) headers["X-API-Key"] = keyInput.value;
  const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || data));
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) (k === "class" ? node.className = v : node.setAttribute(k, v));
  for (const child of children) node.append(child);
  return node;
}

function language() { return $("language").value || undefined; }

function pathText(path) { return (path || []).map((a) => a.label).join(" › "); }

// the evidence of one tag, shown when its name is clicked: words, neighbours that voted, the LLM's judgement
function evidenceNode(t) {
  const ev = t.evidence || {};
  const box = el("div", { class: "evidence hidden", "data-evidence": t.tag_id });
  const words = Object.entries(ev.words || {}).map(([path, found]) =>
    el("div", {}, el("em", {}, `${path}: `), found.map(([w, c]) => `${w} (+${c.toFixed(2)})`).join(", ")));
  box.append(el("div", {}, el("strong", {}, "Words that drove it")), ...(words.length ? words : [el("div", {}, "none")]));
  box.append(el("div", {}, el("strong", {}, "Annotated neighbours that voted")));
  const list = el("ul", {});
  for (const n of ev.neighbours || []) {
    const made = n.synthetic ? el("span", { class: "synthetic", title: "written by an LLM (llm4tag synthesize)" }, "synthetic") : "";
    list.append(el("li", {}, el("code", {}, n.id), " ", made, ` (${n.similarity.toFixed(2)}) `, n.snippet));
  }
  box.append(list);
  const llm = ev.llm || {};
  box.append(el("div", { class: "llm" }, llm.judged ? `LLM judged it: P(yes) ${llm.p_yes.toFixed(2)}` : "LLM did not judge it"));
  return box;
}

function paths(p) { return Object.entries(p || {}).map(([k, v]) => `${k.toUpperCase()} ${v.toFixed(2)}`).join(" · "); }

function tagRow(t) {
  const state = verdict.get(t.tag_id);
  const row = el("div", { class: "row" + (state === "accept" ? " accepted" : state === "reject" ? " rejected" : state === "add" ? " added" : ""), "data-tag": t.tag_id });
  const bar = el("div", { class: "bar" }, el("div", { style: `width:${Math.round((t.score || 0) * 100)}%` }));
  const why = el("span", { class: "why" }, t.added ? "added by you" : `${t.source}${t.p_yes != null ? ` (LLM P(yes) ${t.p_yes.toFixed(2)})` : ""} · ${paths(t.paths)}`);
  const accept = el("button", { class: "accept", title: "right" }, "✓");
  const reject = el("button", { class: "reject", title: "wrong" }, "✗");
  accept.onclick = () => { verdict.set(t.tag_id, "accept"); renderTags(); };
  reject.onclick = () => { verdict.set(t.tag_id, "reject"); renderTags(); };
  const name = el("button", { class: "tag-name", title: "why this tag?" }, `${t.label} `, el("small", {}, t.tag_id));
  row.append(name, bar, el("span", { class: "score" }, t.score == null ? "" : t.score.toFixed(2)), why, el("span", {}, accept, reject));
  const evidence = evidenceNode(t);
  name.onclick = () => evidence.classList.toggle("hidden");
  return [row, evidence];
}

// each tag under its parents: one heading per branch (the path from the root), the branch's tags beneath it
function renderTags() {
  const box = $("tags"); box.replaceChildren();
  const rows = [...current.tags];
  for (const [id, v] of verdict) if (v === "add" && !rows.some((t) => t.tag_id === id)) rows.push({ tag_id: id, label: id, score: null, paths: {}, path: [], added: true });
  const branches = new Map();
  for (const t of rows) {
    const key = pathText(t.path);
    if (!branches.has(key)) branches.set(key, []);
    branches.get(key).push(t);
  }
  for (const [key, tags] of branches) {
    const branch = el("div", { class: "branch", "data-path": key });
    if (key) branch.append(el("div", { class: "branch-path" }, key + " ›"));
    for (const t of tags) branch.append(...tagRow(t));
    box.append(branch);
  }
  if (!rows.length) box.append(el("p", {}, "No tag cleared the confidence threshold; see the candidates below."));
}

function renderCandidates() {
  const body = $("candidates"); body.replaceChildren();
  for (const c of current.candidates || []) {
    const via = (c.via || []).map(([t, s]) => `${t} (${s.toFixed(2)})`).join(", ");
    const synthetic = new Set(c.synthetic_neighbours || []);
    const neighbours = (c.neighbours || []).slice(0, 3)
      .map(([id, s]) => `${id}${synthetic.has(id) ? " [synthetic]" : ""} (${s.toFixed(2)})`).join(", ");
    const why = [neighbours && `similar: ${neighbours}`, via && `via tags: ${via}`].filter(Boolean).join("; ");
    body.append(el("tr", { "data-tag": c.tag_id }, el("td", {}, `${c.label} `, el("small", {}, c.tag_id)),
      el("td", {}, c.confidence == null ? "" : c.confidence.toFixed(2)), el("td", {}, c.score.toFixed(3)),
      el("td", {}, paths(c.paths)), el("td", { class: "why" }, why)));
  }
}

$("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (file) $("text").value = await file.text();
});

$("tag-button").addEventListener("click", async () => {
  const text = $("text").value.trim();
  if (!text) { status("Paste or upload a text first.", true); return; }
  $("tag-button").disabled = true; status("Tagging ...");
  try {
    current = await api("/v1/tag", { text, candidates: true, explain: true, language: language() });
    verdict.clear(); renderTags(); renderCandidates();
    $("result").classList.remove("hidden");
    status(`${current.tags.length} tag(s), ${current.candidates.length} candidates.`);
  } catch (error) { status(`Tagging failed: ${error.message}`, true); }
  $("tag-button").disabled = false;
});

$("add-tag").addEventListener("input", async (event) => {
  const q = event.target.value.trim();
  if (q.length < 2) return;
  const found = await api(`/v1/tags?limit=20&q=${encodeURIComponent(q)}`).catch(() => ({ tags: [] }));
  $("tag-options").replaceChildren(...found.tags.map((t) => el("option", { value: t.id }, t.label)));
});

$("add-button").addEventListener("click", () => {
  const id = $("add-tag").value.trim();
  if (id) { verdict.set(id, "add"); $("add-tag").value = ""; renderTags(); }
});

async function sendFeedback(text, contentId, choices) {
  const body = { text, content_id: contentId, accept: [], reject: [], add: [] };
  for (const [id, v] of choices) body[v].push(id);
  return api("/v1/feedback", body);
}

$("send-feedback").addEventListener("click", async () => {
  if (!current || !verdict.size) { status("Mark tags right or wrong, or add one, first.", true); return; }
  try {
    const saved = await sendFeedback($("text").value.trim(), current.id, verdict);
    status(`Feedback stored (${saved.kind}) for ${saved.content_id}; it applies from the next content on.`);
  } catch (error) { status(`Feedback failed: ${error.message}`, true); }
});

async function loadReview() {
  const box = $("review"); box.replaceChildren();
  try {
    const { items } = await api("/v1/review?limit=50");
    if (!items.length) box.append(el("p", {}, "Nothing to review."));
    for (const item of items) {
      const accept = el("button", { class: "accept" }, "✓ right");
      const reject = el("button", { class: "reject" }, "✗ wrong");
      const node = el("div", { class: "review-item", "data-tag": item.tag_id, "data-content": item.content_id },
        el("span", { class: "branch-path" }, item.path && item.path.length ? pathText(item.path) + " › " : ""),
        el("strong", {}, `${item.label} `), el("small", {}, `${item.tag_id} · confidence ${item.score.toFixed(2)}`),
        el("div", { class: "why" }, item.text.slice(0, 300)), accept, reject);
      const decide = (v) => async () => {
        try { await sendFeedback(item.text, item.content_id, new Map([[item.tag_id, v]])); node.remove(); status("Feedback stored."); }
        catch (error) { status(`Feedback failed: ${error.message}`, true); }
      };
      accept.onclick = decide("accept"); reject.onclick = decide("reject");
      box.append(node);
    }
  } catch (error) { status(`Review queue failed: ${error.message}`, true); }
}

async function loadProposals() {
  const box = $("proposals"); box.replaceChildren();
  try {
    const { proposals } = await api("/v1/proposals");
    const open = proposals.filter((p) => p.status === "proposed");
    if (!open.length) box.append(el("p", {}, "No open proposal: run llm4tag discover."));
    for (const p of open) {
      const label = el("input", { class: "label", value: p.proposal.label, "aria-label": "label" });
      const description = el("textarea", { class: "description", "aria-label": "description" });
      description.value = p.proposal.description || "";
      const aliases = el("input", { class: "aliases", value: (p.proposal.aliases || []).join(", "), "aria-label": "aliases" });
      const accept = el("button", { class: "accept primary" }, "Accept");
      const reject = el("button", { class: "reject" }, "Reject");
      const evidence = el("ul", {});
      for (const e of p.evidence) evidence.append(el("li", {}, el("code", {}, e.id), " ", e.snippet));
      const today = p.tagged_today.map((t) => `${t.label} (${t.count})`).join(", ") || "nothing";
      const node = el("div", { class: "proposal", "data-key": p.key },
        label, description, aliases,
        el("div", { class: "why" }, `${p.size} contents${p.parent_label ? ` · under ${p.parent_label}` : ""} · tagged today: ${today}`),
        evidence, accept, reject);
      accept.onclick = async () => {
        const edits = { label: label.value.trim(), description: description.value.trim(),
          aliases: aliases.value.split(",").map((a) => a.trim()).filter(Boolean) };
        try { const done = await api(`/v1/proposals/${encodeURIComponent(p.key)}/accept`, edits); node.remove(); status(`Tag ${done.tag.id} added with ${p.evidence.length} examples.`); }
        catch (error) { status(`Accepting failed: ${error.message}`, true); }
      };
      reject.onclick = async () => {
        try { await api(`/v1/proposals/${encodeURIComponent(p.key)}/reject`, {}); node.remove(); status("Rejected: it will not be proposed again."); }
        catch (error) { status(`Rejecting failed: ${error.message}`, true); }
      };
      box.append(node);
    }
  } catch (error) { status(`Missing tags failed: ${error.message}`, true); }
}

const views = { tag: ["tag-view", "tag-tab"], review: ["review-view", "review-tab"], missing: ["missing-view", "missing-tab"] };
function show(name) {
  for (const [key, [view, tab]] of Object.entries(views)) {
    $(view).classList.toggle("hidden", key !== name); $(tab).classList.toggle("active", key === name);
  }
}
$("tag-tab").onclick = () => show("tag");
$("review-tab").onclick = () => { show("review"); loadReview(); };
$("missing-tab").onclick = () => { show("missing"); loadProposals(); };

async function loadLanguages() {
  const { languages, default: fallback } = await api("/v1/languages").catch(() => ({ languages: [], default: "" }));
  const select = $("language");
  select.replaceChildren(el("option", { value: "" }, fallback ? `labels: ${fallback}` : "labels"),
    ...languages.filter((l) => l !== fallback).map((l) => el("option", { value: l }, `labels: ${l}`)));
  select.classList.toggle("hidden", languages.length < 2);
}
loadLanguages();
