// Run page: the DAG, header and task table follow the run live; a node's panel streams its log.
import { connectLive, setLiveState, elapsed, formatSeconds, formatBytes } from "./live.js";

const head = document.getElementById("run-head");
const runId = Number(head.dataset.run);
const svg = document.querySelector("#dag svg");
const tasks = new Map();        // node_id -> latest task state (with the seq that set it)
let run = {};
let panel = null;               // { node, id, attempt, last, loading, buffer }
const FINAL = new Set(["success", "failed", "cancelled"]);
const TASK_FINAL = new Set(["success", "failed", "skipped", "upstream_failed", "cancelled"]);

const $ = (id) => document.getElementById(id);
const cssEscape = (s) => (window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&"));
const nodeElement = (node) => svg && svg.querySelector(`g.node[data-node="${cssEscape(node)}"]`);
const rowElement = (node) => document.querySelector(`#task-table tr[data-node="${cssEscape(node)}"]`);

// ------------------------------------------------------------------ applying state

function applyTask(task, force = false) {
  const current = tasks.get(task.node_id);
  if (!force && current && current.seq > task.seq) return;  // an older event than what we show
  tasks.set(task.node_id, task);
  paintTask(task);
  if (panel && panel.node === task.node_id) {
    paintPanelFacts(task);
    if (task.attempts > panel.attempt && $("log-follow").checked) openPanel(task.node_id, task.attempts);
  }
}

function paintTask(task) {
  const g = nodeElement(task.node_id);
  if (g) {
    g.setAttribute("class", `node status-${task.status}${panel && panel.node === task.node_id ? " selected" : ""}`);
    const meta = g.querySelector(".meta");
    if (meta) meta.textContent = nodeMeta(task);
  }
  const row = rowElement(task.node_id);
  if (row) {
    const set = (field, text) => { const c = row.querySelector(`[data-field="${field}"]`); if (c) c.textContent = text; };
    const badge = row.querySelector('[data-field="status"]');
    badge.textContent = task.status; badge.className = `badge status-${task.status}`;
    set("attempts", task.attempts);
    set("exit_code", task.exit_code ?? "");
    set("wall_s", task.wall_s != null ? formatSeconds(task.wall_s) : "");
    set("cpu_s", task.cpu_s != null ? formatSeconds(task.cpu_s) : "");
    set("peak_rss_bytes", formatBytes(task.peak_rss_bytes));
    set("reason", task.reason || "");
  }
}

function nodeMeta(task) {
  if (task.status === "running") {
    const seconds = elapsed(task.started_at, null);
    return seconds === null ? "running" : formatSeconds(seconds);
  }
  if (task.wall_s != null && TASK_FINAL.has(task.status)) return formatSeconds(task.wall_s);
  if (task.status === "retrying") return `attempt ${task.attempts} failed`;
  return "";
}

function applyRun(fields) {
  Object.assign(run, fields);
  const badge = $("run-status");
  badge.textContent = run.status; badge.className = `badge status-${run.status}`;
  const clock = $("elapsed");
  if (run.started_at) clock.dataset.started = run.started_at;
  if (run.finished_at) clock.dataset.finished = run.finished_at;
  if (run.started_at) tick();  // the clock shows the final time the moment the run ends
  if (fields.message !== undefined) {
    $("run-message").textContent = run.message || "";
    $("run-message").className = run.status === "failed" ? "error" : "muted";
  }
  const final = FINAL.has(run.status);
  const show = (id, visible) => { const form = $(id); if (form) form.hidden = !visible; };
  show("cancel-form", !final);
  show("rerun-all-form", final);
  const unsuccessful = new Set(["failed", "upstream_failed", "cancelled"]);
  show("rerun-failed-form", final && [...tasks.values()].some((t) => unsuccessful.has(t.status)));
}

function paintCounts() {
  const counts = {};
  for (const task of tasks.values()) counts[task.status] = (counts[task.status] || 0) + 1;
  const box = $("counts");
  box.replaceChildren(...Object.keys(counts).sort().map((status) => {
    const span = document.createElement("span");
    span.className = `badge status-${status}`;
    span.textContent = `${counts[status]} ${status}`;
    return span;
  }));
}

function tick() {
  const clock = $("elapsed");
  const seconds = elapsed(clock.dataset.started, clock.dataset.finished);
  clock.textContent = seconds === null ? "" : formatSeconds(seconds);
  for (const task of tasks.values()) {
    if (task.status === "running") {
      const meta = nodeElement(task.node_id)?.querySelector(".meta");
      if (meta) meta.textContent = nodeMeta(task);
    }
  }
}

// ------------------------------------------------------------------ the task panel

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function openPanel(node, attempt = null) {
  const task = tasks.get(node);
  if (!task) return;
  if (panel) nodeElement(panel.node)?.classList.remove("selected");
  const current = { node, id: task.id, attempt: attempt ?? Math.max(1, task.attempts), last: 0, loading: true, buffer: [] };
  panel = current;
  nodeElement(node)?.classList.add("selected");
  $("panel").hidden = false;
  $("run-layout").classList.remove("no-panel");
  $("panel-title").textContent = node;
  history.replaceState(null, "", `#task-${task.id}`);
  paintPanelFacts(task);
  $("log").replaceChildren();
  $("log-count").textContent = "";
  const detail = await getJSON(`/api/taskruns/${task.id}/`);
  // Another task (or attempt) may have been opened while this answer was on its way: it is stale.
  if (panel !== current) return;
  paintAttempts(detail);
  await loadLog(current);
}

function paintPanelFacts(task) {
  const badge = $("panel-status");
  badge.textContent = task.status; badge.className = `badge status-${task.status}`;
  const facts = [
    ["Attempts", task.attempts], ["Exit code", task.exit_code ?? "–"],
    ["Started", task.started_at ? new Date(task.started_at).toLocaleTimeString() : "–"],
    ["Wall time", task.wall_s != null ? formatSeconds(task.wall_s) : "–"],
    ["CPU time", task.cpu_s != null ? formatSeconds(task.cpu_s) : "–"],
    ["Peak memory", formatBytes(task.peak_rss_bytes) || "–"],
    ["Why", task.reason || "–"],
  ];
  fillTable($("panel-facts"), facts);
  fillTable($("panel-outputs"), Object.entries(task.outputs || {}), "No outputs.");
}

function fillTable(table, rows, empty) {
  table.replaceChildren(...(rows.length ? rows : [[empty, ""]]).map(([key, value]) => {
    const tr = document.createElement("tr");
    for (const text of [key, value]) { const td = document.createElement("td"); td.textContent = String(text); tr.appendChild(td); }
    return tr;
  }));
}

function paintAttempts(detail) {
  const body = $("panel-attempts").tBodies[0];
  body.replaceChildren(...detail.attempts.map((a) => {
    const tr = document.createElement("tr");
    const waited = a.ready_at && a.started_at ? (Date.parse(a.started_at) - Date.parse(a.ready_at)) / 1000 : null;
    const cpu = a.cpu_user_s != null ? a.cpu_user_s + (a.cpu_sys_s || 0) : null;
    const cells = [a.number, a.status, a.exit_code ?? "", formatSeconds(a.wall_s), formatSeconds(cpu), formatBytes(a.peak_rss_bytes), waited === null ? "" : formatSeconds(Math.max(0, waited))];
    cells.forEach((text, i) => { const td = document.createElement("td"); td.textContent = String(text); if (i > 1) td.className = "num"; tr.appendChild(td); });
    if (a.error) tr.title = a.error;
    return tr;
  }));
  const select = $("log-attempt");
  const numbers = detail.attempts.map((a) => a.number);
  if (!numbers.length) numbers.push(1);
  select.replaceChildren(...numbers.map((n) => new Option(`attempt ${n}`, n, false, n === panel.attempt)));
}

async function loadLog(current) {
  current.loading = true;
  try {
    for (;;) {
      const page = await getJSON(`/api/taskruns/${current.id}/logs/?attempt=${current.attempt}&after=${current.last}&limit=2000`);
      if (panel !== current) return;
      appendLines(page.lines.map((l) => [l.lineno, l.stream, l.ts, l.text]));
      if (page.next_after === null || page.next_after === undefined) break;
    }
  } finally {
    current.loading = false;
  }
  const buffered = current.buffer.splice(0);
  for (const lines of buffered) receiveLines(lines);
}

function receiveLines(lines) {
  if (!panel) return;
  if (panel.loading) { panel.buffer.push(lines); return; }
  const fresh = lines.filter(([lineno]) => lineno > panel.last);
  if (!fresh.length) return;
  if (fresh[0][0] > panel.last + 1) { loadLog(panel); return; }  // missed some: fetch them in order
  appendLines(fresh);
}

function appendLines(lines) {
  const box = $("log");
  const query = $("log-search").value;
  const fragment = document.createDocumentFragment();
  for (const [lineno, stream, , text] of lines) {
    if (lineno !== panel.last + 1) continue;  // never a gap, never a duplicate
    panel.last = lineno;
    const div = document.createElement("div");
    div.className = `line ${stream}`;
    div.dataset.n = lineno;
    const n = document.createElement("span"); n.className = "n"; n.textContent = lineno;
    const t = document.createElement("span"); t.className = "t"; t.textContent = text;
    div.append(n, t);
    if (query) markLine(div, query);
    fragment.appendChild(div);
  }
  box.appendChild(fragment);
  $("log-count").textContent = `${panel.last} line${panel.last === 1 ? "" : "s"}`;
  if ($("log-follow").checked) box.scrollTop = box.scrollHeight;
}

function markLine(div, query) {
  const t = div.querySelector(".t");
  const text = t.textContent;
  const at = query ? text.toLowerCase().indexOf(query.toLowerCase()) : -1;
  div.classList.toggle("hidden", Boolean(query) && at < 0);
  if (at < 0) { t.textContent = text; return; }
  const mark = document.createElement("mark");
  mark.textContent = text.slice(at, at + query.length);
  t.replaceChildren(text.slice(0, at), mark, text.slice(at + query.length));
}

// ------------------------------------------------------------------ wiring

function onSnapshot(snapshot) {
  run = {};
  applyRun(snapshot.run);
  for (const task of snapshot.tasks) applyTask(task, true);
  applyRun({});  // re-evaluate the actions now that the tasks are known
  paintCounts();
  announce("run:snapshot", snapshot);
  if (panel && !panel.loading) loadLog(panel);  // logs written while we were away
}

// Other apps' modules on this page (waterfall, costs, gates) listen for these.
const announce = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));

function onEvent(event) {
  if (event.kind === "task") { applyTask(event); paintCounts(); }
  else if (event.kind === "run") applyRun(event);
  announce("run:event", event);
}

function onUnsequenced(event) {
  if (event.kind === "log" && panel && event.id === panel.id && event.attempt === panel.attempt) receiveLines(event.lines);
  announce("run:event", event);
}

svg?.addEventListener("click", (event) => {
  const g = event.target.closest("g.node");
  if (g) openPanel(g.dataset.node);
});
svg?.addEventListener("keydown", (event) => {
  const g = event.target.closest("g.node");
  if (g && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); openPanel(g.dataset.node); }
});
document.querySelectorAll("#task-table a.open-task").forEach((a) => a.addEventListener("click", (event) => {
  event.preventDefault();
  openPanel(a.closest("tr").dataset.node);
}));
$("panel-close").addEventListener("click", () => {
  if (panel) nodeElement(panel.node)?.classList.remove("selected");
  panel = null;
  $("panel").hidden = true;
  $("run-layout").classList.add("no-panel");
  history.replaceState(null, "", location.pathname);
});
$("log-attempt").addEventListener("change", (event) => openPanel(panel.node, Number(event.target.value)));
$("log-search").addEventListener("input", (event) => {
  document.querySelectorAll("#log .line").forEach((div) => markLine(div, event.target.value));
});
let zoom = 1;
function setZoom(value) {
  zoom = Math.min(3, Math.max(0.2, value));
  const [, , w, h] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
  svg.setAttribute("width", w * zoom);
  svg.setAttribute("height", h * zoom);
}
$("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
$("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
$("zoom-fit").addEventListener("click", () => {
  const [, , w] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
  setZoom(($("dag").clientWidth - 4) / w);
});

const live = connectLive(`/ws/runs/${runId}/`, {
  sequenced: true, onSnapshot, onEvent, onUnsequenced, onStatus: (s) => setLiveState($("live-state"), s),
});
window.__live = live;
setInterval(tick, 1000);

const opened = location.hash.match(/^#task-(\d+)$/);
if (opened) {
  const row = document.querySelector(`#task-table tr[data-task-run="${opened[1]}"]`);
  if (row) {
    const wait = setInterval(() => { if (tasks.size) { clearInterval(wait); openPanel(row.dataset.node); } }, 50);
  }
}
