// Run list and overview: statuses change live, new runs appear at the top.
import { connectLive, setLiveState, elapsed, formatSeconds } from "./live.js";

const tables = document.querySelectorAll("table[data-live-runs]");
const filtersNode = document.getElementById("run-filters");
const filters = filtersNode ? JSON.parse(filtersNode.textContent) : {};
const seen = new Map();  // run id -> newest seq applied

function rowsFor(id) {
  return document.querySelectorAll(`tr[data-run="${id}"]`);
}

function matches(run) {
  if (filters.status && run.status !== filters.status) return false;
  if (filters.since || filters.until) return false;  // a new run is only "now": keep dated views still
  if (filters.workflow && String(run.workflow) !== filters.workflow && run.workflow_name !== filters.workflow) return false;
  return true;
}

function render(row, run) {
  const badge = row.querySelector('[data-field="status"]');
  if (run.status && badge) { badge.textContent = run.status; badge.className = `badge status-${run.status}`; }
  const duration = row.querySelector('[data-field="duration"]');
  if (duration) {
    if (run.started_at) duration.dataset.started = run.started_at;
    if (run.finished_at) duration.dataset.finished = run.finished_at;
  }
  const message = row.querySelector('[data-field="message"]');
  if (message && run.message !== undefined) message.textContent = run.message;
}

const inserting = new Set();
const latest = new Map();  // run id -> newest event seen while its row was being fetched

async function insert(id) {
  if (inserting.has(id)) return;
  inserting.add(id);
  try {
    const response = await fetch(`/api/runs/${id}/`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const run = await response.json();
    if (!matches(run) || rowsFor(id).length) return;
    const table = tables[0];
    const body = table.tBodies[0];
    // Only runs newer than the top row belong at the top; an old run changing stays where it is.
    const newest = body.querySelector("tr[data-run] time")?.getAttribute("datetime");
    if (newest && Date.parse(run.created_at) < Date.parse(newest)) return;
    body.querySelector("tr.empty")?.remove();
    const row = document.createElement("tr");
    row.dataset.run = id;
    const link = document.createElement("a");
    link.href = `/runs/${id}/`;
    link.textContent = `${run.workflow_name} #${run.number}`;
    const cells = ["", "", run.trigger, "", "", run.message || ""];
    cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); });
    row.cells[0].appendChild(link);
    const time = document.createElement("time");
    time.setAttribute("datetime", run.created_at);
    time.textContent = new Date(run.created_at).toLocaleString();
    row.cells[3].appendChild(time);
    row.cells[1].innerHTML = '<span class="badge" data-field="status"></span>';
    row.cells[4].className = "num"; row.cells[4].dataset.field = "duration";
    row.cells[5].className = "muted"; row.cells[5].dataset.field = "message";
    render(row, run);
    // Events that came while we fetched: apply the ones newer than what the API returned.
    const event = latest.get(id);
    if (event && event.seq > (run.last_seq || 0)) render(row, event);
    seen.set(id, Math.max(seen.get(id) || 0, run.last_seq || 0));
    body.insertBefore(row, body.firstChild);
  } finally {
    inserting.delete(id);
    latest.delete(id);
  }
}

function apply(event) {
  if (event.kind !== "run") return;
  if ((seen.get(event.id) || 0) >= event.seq) return;
  seen.set(event.id, event.seq);
  const rows = rowsFor(event.id);
  if (rows.length) rows.forEach((row) => render(row, event));
  else {
    const before = latest.get(event.id);
    latest.set(event.id, before ? { ...before, ...event } : event);
    insert(event.id);
  }
  const active = document.getElementById("active-count");
  if (active) active.textContent = document.querySelectorAll('tr[data-run] [data-field="status"].status-running, tr[data-run] [data-field="status"].status-queued').length;
}

function tick() {
  document.querySelectorAll('[data-field="duration"]').forEach((cell) => {
    const seconds = elapsed(cell.dataset.started, cell.dataset.finished);
    if (seconds !== null) cell.textContent = formatSeconds(seconds);
  });
}

if (tables.length) {
  const state = document.getElementById("live-state");
  window.__live = connectLive("/ws/runs/", { onEvent: apply, onStatus: (s) => setLiveState(state, s) });
  setInterval(tick, 1000);
}
