// moonpipe studio: live tables and graphs over the server's JSON. No library, no inline
// script (the Content-Security-Policy forbids it); data from records is only ever put in
// the page as text (textContent), never as markup.
"use strict";

const POLL_MS = 500;
const csrf = document.querySelector('meta[name="csrf-token"]').content;

async function post(url, data) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Moonpipe-Csrf": csrf },
    body: JSON.stringify(data || {}),
  });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok || body.error) {
    const error = new Error(body.error || `HTTP ${response.status}`);
    error.field = body.field;
    throw error;
  }
  return body;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function show(id, text) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text || "";
  el.hidden = !text;
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- the executions page ---------------------------------------------------------------

function executionsPage() {
  const body = document.querySelector("#executions tbody");
  const filter = document.getElementById("filter");
  const compare = document.getElementById("compare-selected");
  const metrics = [...document.querySelectorAll("th[data-sort^='metric:']")].map((th) =>
    th.dataset.sort.slice(7));
  let rows = [];
  let groups = {};
  let sortKey = "started_ts";
  let descending = true;
  const picked = new Set();

  function value(row, key) {
    if (key.startsWith("metric:")) return row.metrics[key.slice(7)];
    return row[key];
  }

  function render() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = rows.filter((r) => {
      const text = [r.id, r.status, r.display_name, r.changed, groups[r.id] || ""].join(" ").toLowerCase();
      return words.every((w) => text.includes(w));
    });
    shown.sort((a, b) => {
      const x = value(a, sortKey), y = value(b, sortKey);
      if (x === y) return 0;
      if (x === null || x === undefined || x === "") return 1;
      if (y === null || y === undefined || y === "") return -1;
      return (x < y ? -1 : 1) * (descending ? -1 : 1);
    });
    const fragment = document.createDocumentFragment();
    let lastGroup = null;
    for (const r of shown) {
      const group = groups[r.id] || null;
      if (sortKey === "started_ts" && group && group !== lastGroup) {
        const header = el("tr", { class: "group" });
        header.appendChild(el("td", { colspan: String(6 + metrics.length) }, group));
        fragment.appendChild(header);
      }
      lastGroup = group;
      fragment.appendChild(rowOf(r, group));
    }
    body.replaceChildren(fragment);
    compare.disabled = picked.size < 2;
  }

  function rowOf(r, group) {
    const tr = el("tr", { "data-execution-id": r.id, "data-status": r.status });
    if (group) tr.dataset.sweep = group;
    const box = el("input", { type: "checkbox", class: "pick", value: r.id, "aria-label": `select ${r.id}` });
    box.checked = picked.has(r.id);
    box.addEventListener("change", () => {
      if (box.checked) picked.add(r.id); else picked.delete(r.id);
      compare.disabled = picked.size < 2;
    });
    const cells = [
      box,
      el("span", { class: `badge s-${r.status}` }, r.status),
      r.started,
      r.duration_s === null ? "" : `${r.duration_s.toFixed(1)} s`,
    ];
    for (const c of cells) {
      const td = el("td");
      if (typeof c === "string") td.textContent = c; else td.appendChild(c);
      tr.appendChild(td);
    }
    const name = el("td");
    name.appendChild(el("a", { href: `/executions/${encodeURIComponent(r.id)}` }, r.display_name || r.id));
    if (r.display_name) { name.append(" "); name.appendChild(el("span", { class: "id" }, r.id)); }
    tr.appendChild(name);
    tr.appendChild(el("td", { class: "changed" }, r.changed));
    for (const m of metrics) {
      const v = r.metrics[m];
      tr.appendChild(el("td", { class: "num" }, v === null || v === undefined ? "" : v.toFixed(4)));
    }
    return tr;
  }

  async function refresh() {
    try {
      const data = await getJson("/api/executions");
      rows = data.rows; groups = data.groups;
      render();
      document.getElementById("live").textContent = "live";
      const none = document.getElementById("no-executions");
      if (none && rows.length) none.hidden = true;
    } catch (err) {
      document.getElementById("live").textContent = `not updating: ${err.message}`;
    }
    setTimeout(refresh, POLL_MS);
  }

  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      descending = sortKey === th.dataset.sort ? !descending : true;
      sortKey = th.dataset.sort;
      render();
    });
  }
  filter.addEventListener("input", render);
  for (const box of document.querySelectorAll("input.pick")) {
    box.addEventListener("change", () => {
      if (box.checked) picked.add(box.value); else picked.delete(box.value);
      compare.disabled = picked.size < 2;
    });
  }
  compare.addEventListener("click", () => {
    window.location.href = `/compare?ids=${[...picked].map(encodeURIComponent).join(",")}`;
  });

  const start = document.getElementById("start-execution");
  start.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const label of start.querySelectorAll("label.invalid")) label.classList.remove("invalid");
    const parameters = {};
    for (const input of start.querySelectorAll("[name]")) parameters[input.name] = input.value;
    try {
      const started = await post("/api/start", { parameters });
      window.location.href = `/executions/${encodeURIComponent(started.execution_id)}`;
    } catch (err) {
      show("start-error", err.message);
      const label = err.field && start.querySelector(`label[data-field="${CSS.escape(err.field)}"]`);
      if (label) label.classList.add("invalid");
    }
  });

  const sweep = document.getElementById("start-sweep");
  sweep.addEventListener("submit", async (event) => {
    event.preventDefault();
    show("sweep-error", ""); show("sweep-started", "");
    try {
      const started = await post("/api/sweep", {
        axes: sweep.elements.axes.value, params: sweep.elements.params.value });
      show("sweep-started", `started ${started.points.length} points: ${started.points.join("; ")}`);
    } catch (err) {
      show("sweep-error", err.message);
    }
  });
  refresh();
}

// -- one execution -------------------------------------------------------------------------

const WORDS = { NotRun: "not run", Pending: "pending", Untaken: "branch not taken" };

function executionPage() {
  const header = document.getElementById("execution");
  const id = header.dataset.executionId;
  const panel = document.getElementById("step-panel");
  let selected = null;
  let logTimer = null;
  let nodes = {};

  function offerActions(status) {
    // Stop while it runs, Retry once it is Failed or Stopped (what the service allows)
    const running = ["Starting", "Executing", "Stopping"].includes(status);
    header.querySelector('[data-action="stop"]').hidden = !running;
    header.querySelector('[data-action="retry"]').hidden = !["Failed", "Stopped"].includes(status);
  }
  offerActions(header.dataset.status);

  async function poll() {
    let again = true;
    try {
      const state = await getJson(`/api/executions/${encodeURIComponent(id)}/state`);
      header.dataset.status = state.status;
      offerActions(state.status);
      const badge = document.getElementById("execution-status");
      badge.textContent = state.status;
      badge.className = `badge s-${state.status}`;
      const reason = document.getElementById("failure-reason");
      reason.querySelector("span").textContent = state.failure_reason;
      reason.hidden = !state.failure_reason;
      for (const [name, node] of Object.entries(state.nodes)) {
        const g = document.querySelector(`#graph [data-step="${CSS.escape(name)}"]`);
        if (!g) continue;
        const before = g.dataset.status;
        g.dataset.status = node.status;
        g.setAttribute("class", `node s-${node.status}`);
        const word = g.querySelector(".nstatus");
        if (word) word.textContent = WORDS[node.status] || node.status;
        for (const edge of document.querySelectorAll(`#graph [data-to="${CSS.escape(name)}"]`)) {
          edge.setAttribute("class", `edge e-${node.status}`);
        }
        if (name === selected && before !== node.status && nodes[name] !== undefined) openStep(name);
        nodes[name] = node.status;
      }
      again = state.active;
    } catch (err) {
      again = true;
    }
    if (again) setTimeout(poll, POLL_MS);
  }

  async function openStep(name) {
    selected = name;
    for (const g of document.querySelectorAll("#graph .node.selected")) g.classList.remove("selected");
    const g = document.querySelector(`#graph [data-step="${CSS.escape(name)}"]`);
    if (g) g.classList.add("selected");
    const response = await fetch(
      `/api/executions/${encodeURIComponent(id)}/steps/${encodeURIComponent(name)}`,
      { credentials: "same-origin" });
    panel.innerHTML = await response.text();  // rendered and escaped by the server's template
    streamLog(name);
  }

  function streamLog(name) {
    if (logTimer) clearTimeout(logTimer);
    const log = document.getElementById("step-log");
    if (!log || log.dataset.empty === "true") return;
    let offset = 0;
    async function more() {
      if (selected !== name) return;
      try {
        const part = await getJson(
          `/api/executions/${encodeURIComponent(id)}/steps/${encodeURIComponent(name)}/log?offset=${offset}`);
        if (part.text) {
          const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.textContent += part.text;
          if (atEnd) log.scrollTop = log.scrollHeight;
        }
        if (part.note && !log.textContent) log.textContent = part.note;
        offset = part.offset;
        if (!part.complete) logTimer = setTimeout(more, POLL_MS);
        else log.dataset.complete = "true";
      } catch (err) {
        logTimer = setTimeout(more, POLL_MS * 2);
      }
    }
    more();
  }

  for (const g of document.querySelectorAll("#graph [data-step]")) {
    nodes[g.dataset.step] = g.dataset.status;
    g.addEventListener("click", () => openStep(g.dataset.step));
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openStep(g.dataset.step); }
    });
  }
  for (const link of document.querySelectorAll("[data-step-link]")) {
    link.addEventListener("click", (event) => { event.preventDefault(); openStep(link.dataset.stepLink); });
  }
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (!["stop", "retry", "rerun"].includes(action)) return;
    button.disabled = true;
    show("action-error", "");
    try {
      const data = action === "rerun" ? { step: button.dataset.step } : {};
      const done = await post(`/api/executions/${encodeURIComponent(id)}/${action}`, data);
      if (action === "rerun") {
        window.location.href = `/executions/${encodeURIComponent(done.execution_id)}`;
        return;
      }
      setTimeout(poll, 0);
    } catch (err) {
      show("action-error", err.message);
    } finally {
      button.disabled = false;
    }
  });
  if (header.dataset.selected) openStep(header.dataset.selected);
  poll();
}

// -- registry and endpoints ----------------------------------------------------------------

function registryPage() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !button.dataset.arn) return;
    const arn = button.dataset.arn;
    const action = button.dataset.action;
    show("registry-error", "");
    button.disabled = true;
    try {
      if (action === "approve" || action === "reject") {
        await post("/api/packages/approval", {
          arn, status: action === "approve" ? "Approved" : "Rejected" });
      } else if (action === "deploy") {
        const endpoint = button.closest("tr").querySelector("input.endpoint-name").value;
        await post("/api/packages/deploy", { arn, endpoint });
      }
      window.location.reload();
    } catch (err) {
      show("registry-error", err.message);
      button.disabled = false;
    }
  });
  const invoke = document.getElementById("invoke-endpoint");
  if (invoke) {
    invoke.addEventListener("submit", async (event) => {
      event.preventDefault();
      show("invoke-error", ""); show("invoke-result", "");
      const name = invoke.elements.endpoint.value;
      try {
        const answer = await post(`/api/endpoints/${encodeURIComponent(name)}/invoke`, {
          body: invoke.elements.body.value });
        show("invoke-result", answer.text);
      } catch (err) {
        show("invoke-error", err.message);
      }
    });
  }
}

const page = document.body.dataset.page;
if (page === "executions") executionsPage();
if (page === "execution") executionPage();
if (page === "registry") registryPage();
