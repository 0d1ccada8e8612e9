// fluence-dao dashboard: polls /api/state and renders it; browses the aggregation tree through /api/tree.
// Every value from the chain, the peer or IPFS is shown as text (textContent), never parsed as HTML.
"use strict";

const RUNS_IN_TABLE = 12;
let refreshSeconds = 2;
let generation = 0;
const openHistories = new Set();
const tree = { root: undefined, path: "", request: 0, chainUp: true }; // root undefined: not rendered yet

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setText(id, value, fallback = "—") {
  const node = document.getElementById(id);
  node.textContent = value === null || value === undefined || value === "" ? fallback : String(value);
  return node;
}

function short(hash) {
  return hash && hash.length > 18 ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : hash || "";
}

function clock(iso) {
  return iso ? iso.slice(11, 23) : "";
}

function badge(node, yes, yesText, noText) {
  node.className = "badge " + (yes === undefined || yes === null ? "" : yes ? "yes" : "no");
  node.textContent = yes === undefined || yes === null ? "" : yes ? yesText : noText;
}

// ---- the snapshot ---------------------------------------------------------------------------------------------

function renderHeader(state) {
  const chain = state.chain || {};
  const peer = state.peer || {};
  const parts = [];
  if (peer.peer_id) parts.push(`peer ${short(peer.peer_id)}`);
  if (chain.chain_id) parts.push(`chain ${chain.chain_id}`);
  if (chain.block_number !== undefined) parts.push(`block ${chain.block_number}`);
  if (chain.rpc_url) parts.push(chain.rpc_url);
  setText("where", parts.join(" · "), "");
  setText("updated", state.generated_at ? `updated ${clock(state.generated_at)}` : "", "");
  const notes = document.getElementById("notes");
  notes.replaceChildren(...(state.notes || []).map((note) => el("li", { text: note })));
  notes.hidden = !(state.notes || []).length;
}

function renderSigner(state) {
  const signer = state.signer || {};
  setText("signer-address", signer.address, state.chain && state.chain.reachable ? "none in ENS" : "unknown");
  const balance = setText("signer-balance", signer.balance_eth !== undefined ? `${trimEther(signer.balance_eth)} ETH` : null);
  balance.dataset.wei = signer.balance_wei || "";
  balance.title = signer.balance_wei ? `${signer.balance_wei} wei` : "";
  setText("signer-peer", signer.peer_id);
  badge(document.getElementById("signer-live"), signer.live_on_peer, "live on the peer", "not live on the peer");
  setText("signer-service", signer.service_id);
  setText("signer-name", signer.name);
  const controls = document.getElementById("signer-controls");
  badge(controls, signer.controls_name, "controls the name", "does not control the name");
  controls.dataset.controls = signer.controls_name === undefined ? "" : String(signer.controls_name);
  setText("signer-owner", signer.owner);
}

function trimEther(text) {
  const [whole, fraction = ""] = String(text).split(".");
  const shown = fraction.slice(0, 6).replace(/0+$/, "");
  return shown ? `${whole}.${shown}` : whole;
}

function runTitle(run) {
  const lines = [`#${run.seq} ${run.outcome} at ${run.time || "?"}`];
  if (run.step) lines.push(`step: ${run.step}`);
  if (run.error) lines.push(run.error);
  if (run.tx_hash) lines.push(`tx ${run.tx_hash}`, `nonce ${run.nonce} · block ${run.block_number}`);
  if (run.skipped > 1) lines.push(`${run.skipped} runs skipped`);
  return lines.join("\n");
}

function runAttrs(run) {
  return {
    "data-seq": run.seq,
    "data-outcome": run.outcome,
    "data-tx": run.tx_hash || "",
    "data-nonce": run.nonce ?? "",
    "data-block": run.block_number ?? "",
  };
}

function renderInterval(interval) {
  const counts = interval.counts || {};
  const args = interval.args || {};
  const every = interval.every_s ? `every ${interval.every_s} s` : "once";
  const writes = args.record_key ? ` · writes ${args.signer_name} ${args.record_key}` : "";
  const head = el("div", { class: "interval-head" },
    el("strong", { text: `${interval.kind} ` }), el("code", { text: interval.id }),
    el("span", { class: "muted", text: ` · ${every}${writes} · runs ${counts.runs ?? 0}: ok ${counts.ok ?? 0}, ` +
      `failed ${counts.failed ?? 0}, skipped ${counts.skipped ?? 0}` +
      (interval.next_at ? ` · next ${clock(interval.next_at)}` : "") }));
  if (interval.error) head.append(el("div", { class: "error", text: interval.error }));
  const runs = interval.runs || [];
  const timeline = el("div", { class: "timeline", "aria-label": "runs, oldest first" },
    runs.map((run) => el("span", { class: `run outcome-${run.outcome}`, title: runTitle(run), ...runAttrs(run) })));
  const rows = runs.slice(-RUNS_IN_TABLE).reverse().map((run) => {
    const detail = run.outcome === "failed"
      ? el("span", { class: "error", text: (run.step ? `at ${run.step}: ` : "") + (run.error || "failed") })
      : el("span", { text: run.outcome === "skipped" ? `${run.skipped} skipped: ${run.error || ""}` : run.note || run.value || "" });
    return el("tr", { class: "run-row", ...runAttrs(run) },
      el("td", { class: "mono", text: clock(run.time) }),
      el("td", {}, el("span", { class: `badge outcome-${run.outcome}`, text: run.outcome })),
      el("td", { class: "detail", title: detail.textContent }, detail),
      el("td", {}, el("code", { title: run.tx_hash || "", text: short(run.tx_hash) })),
      el("td", { class: "mono", text: run.nonce ?? "" }),
      el("td", { class: "mono", text: run.block_number ?? "" }));
  });
  const table = el("table", { class: "grid runs" },
    el("thead", {}, el("tr", {}, ["time", "outcome", "step / result", "tx", "nonce", "block"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
  return el("div", { class: "interval", "data-id": interval.id, "data-kind": interval.kind }, head, timeline, table);
}

function renderIntervals(state) {
  const container = document.getElementById("intervals");
  const intervals = state.intervals || [];
  if (!intervals.length) {
    const why = state.peer && state.peer.reachable ? "No interval on the peer." : "The peer does not answer.";
    container.replaceChildren(el("p", { class: "muted", text: why }));
    return;
  }
  container.replaceChildren(...intervals.map(renderInterval));
}

function historyList(record) {
  const id = `${record.name} ${record.key}`;
  const changes = record.history || [];
  if (!changes.length) return el("span", { class: "muted", text: "—" });
  const details = el("details", { open: openHistories.has(id) },
    el("summary", { text: `${changes.length} change${changes.length === 1 ? "" : "s"}` }),
    el("ol", { reversed: true }, changes.slice().reverse().map((change) =>
      el("li", { class: "change", "data-tx": change.tx_hash, "data-block": change.block_number },
        el("span", { class: "mono", text: `block ${change.block_number} ` }),
        el("code", { title: change.tx_hash, text: short(change.tx_hash) }),
        " → ", el("span", { class: "change-value", text: change.value ?? "(value unavailable)" })))));
  details.addEventListener("toggle", () => (details.open ? openHistories.add(id) : openHistories.delete(id)));
  return details;
}

function renderRecords(state) {
  const body = document.querySelector("#records tbody");
  body.replaceChildren(...(state.records || []).map((record) =>
    el("tr", { class: "record", "data-name": record.name, "data-key": record.key },
      el("td", { class: "mono", text: record.name }),
      el("td", { class: "mono", text: record.key }),
      el("td", { class: "value mono", text: record.value ?? "" }),
      el("td", {}, historyList(record)))));
  const history = state.history || {};
  let text = history.scanned_to === null || history.scanned_to === undefined
    ? "History not read yet."
    : `History from the resolver's TextChanged events, blocks ${history.from_block}–${history.scanned_to}` +
      (history.complete ? "" : " (still reading)") + `; the last ${history.per_key} changes per record.`;
  if (history.error) text += ` Error: ${history.error}`;
  setText("history-status", text);
}

function renderModules(state) {
  const body = document.querySelector("#modules tbody");
  body.replaceChildren(...(state.modules || []).map((module) => {
    const last = (module.history || []).slice(-1)[0];
    return el("tr", { class: "module", "data-key": module.key },
      el("td", { class: "mono", text: module.key }),
      el("td", { class: "mono value", text: module.value || "—" }),
      el("td", { class: "mono", title: last ? last.tx_hash : "", text: last ? `block ${last.block_number}` : "" }));
  }));
}

function render(state) {
  renderHeader(state);
  renderSigner(state);
  renderIntervals(state);
  renderRecords(state);
  renderModules(state);
  const root = (state.tree || {}).root || null;
  tree.chainUp = Boolean((state.chain || {}).reachable);
  if (root !== tree.root) {
    tree.root = root;
    loadTree(root ? tree.path : "");
  }
  generation += 1;
  document.body.dataset.generation = String(generation);
  document.body.dataset.generatedMs = String(state.generated_ms || "");
  document.body.dataset.block = String((state.chain || {}).block_number ?? "");
  document.body.dataset.historyTo = String((state.history || {}).scanned_to ?? "");
}

function setLive(ok, detail) {
  const live = document.getElementById("live");
  live.dataset.state = ok ? "live" : "down";
  live.textContent = ok ? "live" : `no answer (${detail}); retrying`;
}

async function poll() {
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const state = await response.json();
    refreshSeconds = Number(state.refresh_s) || refreshSeconds;
    render(state);
    setLive(true);
  } catch (error) {
    setLive(false, error.message || error);
  }
  setTimeout(poll, refreshSeconds * 1000);
}

// ---- the tree -------------------------------------------------------------------------------------------------

function isLink(value) {
  return value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 &&
    typeof value["/"] === "string";
}

function renderValue(value, path) {
  if (isLink(value)) {
    const button = el("button", { class: "link", type: "button", "data-path": path, "data-cid": value["/"], text: value["/"] });
    button.addEventListener("click", () => loadTree(path));
    return button;
  }
  if (value && typeof value === "object" && !Array.isArray(value) && value["/"] && value["/"].bytes !== undefined) {
    return el("span", { class: "s", text: `bytes ${value["/"].bytes}` });
  }
  if (Array.isArray(value) || (value && typeof value === "object")) {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    if (!entries.length) return el("span", { class: "muted", text: Array.isArray(value) ? "[]" : "{}" });
    return el("ul", { class: "node" }, entries.map(([key, child]) =>
      el("li", { "data-key": key }, el("span", { class: "k", text: key }), ": ",
        renderValue(child, path ? `${path}/${key}` : key))));
  }
  if (typeof value === "string") return el("span", { class: "s", text: JSON.stringify(value) });
  return el("span", { class: "n", text: JSON.stringify(value) });
}

function renderCrumbs(root, path) {
  const nav = document.getElementById("tree-path");
  const crumbs = [];
  const home = el("button", { type: "button", "data-path": "", title: root, text: `root ${short(root)}` });
  home.addEventListener("click", () => loadTree(""));
  crumbs.push(home);
  const parts = path ? path.split("/") : [];
  parts.forEach((part, i) => {
    const target = parts.slice(0, i + 1).join("/");
    const button = el("button", { type: "button", "data-path": target, text: part });
    button.addEventListener("click", () => loadTree(target));
    crumbs.push(el("span", { class: "sep", text: "/" }), button);
  });
  nav.replaceChildren(...crumbs);
}

async function loadTree(path) {
  const container = document.getElementById("tree");
  const card = document.getElementById("tree-card");
  if (!tree.root) {
    tree.path = "";
    document.getElementById("tree-path").replaceChildren();
    const why = tree.chainUp ? "No ipld-tip record yet: run `fluence-dao aggregate`." : "The chain does not answer: the root is unknown.";
    container.replaceChildren(el("p", { class: "muted", text: why }));
    card.dataset.state = "empty";
    return;
  }
  card.dataset.state = "loading";
  const request = ++tree.request; // a later click wins over an answer still on its way
  try {
    const response = await fetch(`/api/tree?path=${encodeURIComponent(path)}`, { cache: "no-store" });
    const answer = await response.json();
    if (request !== tree.request) return;
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    tree.path = answer.path;
    renderCrumbs(answer.root, answer.path);
    container.replaceChildren(renderValue(answer.value, answer.path));
    card.dataset.root = answer.root;
    card.dataset.path = answer.path;
    card.dataset.state = "loaded";
  } catch (error) {
    if (request !== tree.request) return;
    container.replaceChildren(el("p", { class: "error", text: `${path || "root"}: ${error.message || error}` }));
    card.dataset.state = "error";
  }
}

document.addEventListener("DOMContentLoaded", poll);
