// Run page, costs: each DAG node's cost (growing while it runs), the run's total in the header,
// the per-task table, budget alerts, and "why this cost" for the node clicked. Fed by run.js's
// "run:snapshot" and "run:event" (cost events travel on the run's own sequenced event path).

const card = document.getElementById("cost-card");
const runId = card ? Number(card.dataset.run) : null;
const nodes = new Map();   // node_id -> { total, live, status, reason, attempts, retries }
let total = 0;
let unpricedTarget = card ? /^\s*unpriced\s*$/i.test(document.getElementById("run-cost-total").textContent) : false;
let final = false;

export function usd(value) {
  if (value === null || value === undefined) return "unpriced";
  if (value === 0) return "$0";
  const a = Math.abs(value);
  if (a >= 1) return `$${value.toFixed(2)}`;
  if (a >= 0.01) return `$${value.toFixed(4)}`;
  if (a < 1e-8) return "<$0.00000001";
  if (a < 1e-4) return `$${value.toFixed(8).replace(/0+$/, "")}`;
  return `$${value.toFixed(6).replace(/0+$/, "")}`;
}

const $ = (id) => document.getElementById(id);
const cssEscape = (s) => (window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&"));

function headerSpan() {
  let span = $("run-cost");
  if (!span) {
    span = document.createElement("span");
    span.id = "run-cost";
    span.className = "run-cost mono";
    span.title = "What this run cost so far";
    const elapsed = $("elapsed");
    if (elapsed) elapsed.after(span);
  }
  return span;
}

function costText(node) {
  const svg = document.querySelector("#dag svg");
  const g = svg && svg.querySelector(`g.node[data-node="${cssEscape(node)}"]`);
  if (!g) return null;
  let text = g.querySelector("text.cost");
  if (!text) {
    const rect = g.querySelector("rect");
    text = document.createElementNS("http://www.w3.org/2000/svg", "text");
    text.setAttribute("class", "cost");
    text.setAttribute("x", Number(rect.getAttribute("x")) + Number(rect.getAttribute("width")) - 8);
    text.setAttribute("y", Number(rect.getAttribute("y")) + 34);
    text.setAttribute("text-anchor", "end");
    g.appendChild(text);
  }
  return text;
}

function paintNode(node) {
  const info = nodes.get(node);
  const text = costText(node);
  if (!text || !info) return;
  const unpriced = info.status === "unpriced";
  text.textContent = unpriced ? "unpriced" : usd(info.total) + (info.status === "partial" ? "+" : "");
  text.classList.toggle("unpriced", unpriced || info.status === "partial");
  text.classList.toggle("live", Boolean(info.live));
  let title = text.querySelector("title");
  if (!title) { title = document.createElementNS("http://www.w3.org/2000/svg", "title"); text.appendChild(title); }
  title.textContent = info.reason ? `${usd(info.total)}; unpriced: ${info.reason}` : `${usd(info.total)}${info.live ? " so far" : ""}`;
}

function paintTotal() {
  const unpricedNodes = [...nodes.values()].filter((n) => n.status !== "priced" && n.status !== undefined).length;
  const text = unpricedTarget && total === 0 ? "unpriced" : usd(total) + (unpricedNodes ? ` + ${unpricedNodes} unpriced` : "");
  headerSpan().textContent = text;
  headerSpan().classList.toggle("final", final);
  $("run-cost-total").textContent = text;
  $("run-cost-total").dataset.total = total;
  $("cost-foot-total").textContent = text;
  $("cost-state").textContent = final ? "final" : "live";
  const body = $("cost-nodes").tBodies[0];
  const rows = [...nodes.entries()].sort((a, b) => (b[1].total || 0) - (a[1].total || 0));
  body.replaceChildren(...rows.map(([node, info]) => {
    const tr = document.createElement("tr");
    tr.dataset.node = node;
    const cells = [node, info.attempts ?? "", info.retries ? usd(info.retries) : "",
      info.status === "unpriced" ? `unpriced: ${info.reason || ""}`
        : usd(info.total) + (info.status === "partial" ? ` + unpriced: ${info.reason || ""}` : "") + (info.live ? " (running)" : "")];
    cells.forEach((value, i) => { const td = document.createElement("td"); td.textContent = String(value); if (i) td.className = "num"; tr.appendChild(td); });
    tr.addEventListener("click", () => explain(node));
    return tr;
  }));
  const retries = [...nodes.values()].reduce((sum, n) => sum + (n.retries || 0), 0);
  $("cost-retries").textContent = usd(retries);
}

function addAlert(alert) {
  const li = document.createElement("li");
  li.className = `cost-alert ${alert.level}`;
  li.textContent = alert.message;
  $("cost-alerts").appendChild(li);
}

function onSnapshot(snapshot) {
  const cost = snapshot.extras && snapshot.extras.costs;
  if (!cost) return;
  nodes.clear();
  for (const [node, row] of Object.entries(cost.nodes || {})) {
    nodes.set(node, { total: row.total || 0, live: false, attempts: row.attempts, retries: row.retries,
      status: row.unpriced ? (row.total ? "partial" : "unpriced") : "priced", reason: row.reason || "" });
  }
  total = cost.total || 0;
  final = Boolean(cost.final);
  if (cost.target && cost.target.unpriced) unpricedTarget = true;
  $("cost-alerts").replaceChildren();
  (cost.alerts || []).forEach(addAlert);
  for (const node of nodes.keys()) paintNode(node);
  paintTotal();
}

function onEvent(event) {
  if (event.kind === "cost") {
    if (event.node) {
      const info = nodes.get(event.node) || { attempts: 0, retries: 0 };
      info.total = event.node_total;
      info.live = Boolean(event.live);
      info.status = event.status;
      info.reason = event.reason || "";
      if (!event.live) {
        info.attempts = (info.attempts || 0) + 1;
        if (event.retry) info.retries = (info.retries || 0) + event.amount;
      }
      nodes.set(event.node, info);
      paintNode(event.node);
    }
    if (typeof event.run_total === "number") total = event.run_total;
    if (event.target && event.target.unpriced) unpricedTarget = true;
    if (event.final) { final = true; for (const [node, info] of nodes) { info.live = false; paintNode(node); } loadWhatIf(); }
    paintTotal();
  } else if (event.kind === "cost_budget") {
    addAlert(event);
  }
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

let explaining = null;  // the node whose records the box is waiting for: an older answer is stale

async function explain(node) {
  explaining = node;
  $("cost-why-node").textContent = `— ${node}`;
  const body = $("cost-why-body");
  const page = await getJSON(`/api/costs/records/?run=${runId}&node=${encodeURIComponent(node)}&limit=50`);
  if (explaining !== node) return;
  const recordsOf = page.results.slice().sort((a, b) => a.attempt_number - b.attempt_number);
  if (!recordsOf.length) { body.textContent = nodes.get(node)?.live ? "Running: its price is final when the attempt ends." : "No attempt priced."; return; }
  body.replaceChildren(...recordsOf.map((record) => {
    const box = document.createElement("div");
    box.className = "cost-record";
    const head = document.createElement("div");
    head.className = "cost-record-head";
    head.textContent = `Attempt ${record.attempt_number}${record.is_retry ? " (retry)" : ""}: ${record.status === "unpriced" ? "unpriced" : usd(record.amount)} — ${record.model} model, catalogue #${record.catalogue ?? "?"}`;
    const list = document.createElement("ul");
    for (const line of record.lines) {
      const li = document.createElement("li");
      li.className = line.amount === null ? "unpriced" : "";
      li.textContent = line.amount === null ? `${line.what}: unpriced — ${line.reason}` : `${line.what}: ${line.formula}`;
      list.appendChild(li);
    }
    box.append(head, list);
    return box;
  }));
}

async function loadWhatIf() {
  if ($("cost-what-if")) return;
  const data = await getJSON(`/api/costs/runs/${runId}/`);
  if (!data.what_if || !data.what_if.length) return;
  const table = document.createElement("table");
  table.className = "list";
  table.id = "cost-what-if";
  table.innerHTML = "<thead><tr><th>Cloud</th><th>Region</th><th>Instance</th><th class='num'>vCPU</th><th class='num'>GiB</th><th class='num'>$/hour</th><th class='num'>This run</th></tr></thead><tbody></tbody>";
  for (const alt of data.what_if) {
    const tr = document.createElement("tr");
    tr.dataset.provider = alt.provider;
    if (alt.actual) tr.className = "actual";
    const amount = alt.amount === null ? `unpriced: ${alt.unpriced.join("; ")}` : usd(alt.amount);
    [alt.provider + (alt.actual ? " (as run)" : ""), alt.region, alt.instance_type || "—", alt.vcpu ?? "", alt.memory_gib ?? "", usd(alt.hourly), amount]
      .forEach((value, i) => { const td = document.createElement("td"); td.textContent = String(value); if (i > 2) td.className = "num"; tr.appendChild(td); });
    table.tBodies[0].appendChild(tr);
  }
  const title = document.createElement("h3");
  title.textContent = "What if — this run on each cloud's nearest equivalent instance";
  $("cost-what-if-later")?.remove();
  card.append(title, table);
}

if (card) {
  headerSpan();
  document.addEventListener("run:snapshot", (e) => onSnapshot(e.detail));
  document.addEventListener("run:event", (e) => onEvent(e.detail));
  document.querySelector("#dag svg")?.addEventListener("click", (event) => {
    const g = event.target.closest("g.node");
    if (g) explain(g.dataset.node);
  });
}
