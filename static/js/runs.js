// Run list and overview: statuses change live, new runs appear in place. Every (re)connect
// brings a snapshot of the rows the page shows and of the newest runs, so whatever changed
// while the socket was down (or before it first joined) shows up without a reload.
import { connectLive, setLiveState, elapsed, formatSeconds } from "./live.js";

const FINAL = new Set(["success", "failed", "cancelled"]);
const SHOWN = 200;  // the consumer refreshes at most this many of the page's rows
const tables = [...document.querySelectorAll("table[data-live-runs]")];
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

// Which runs a table holds: the run list's filters, or (overview) runs going on / finished.
function accepts(table, run) {
  const kind = table.dataset.liveRuns;
  if (kind === "active") return !FINAL.has(run.status);
  if (kind === "finished") return FINAL.has(run.status);
  return matches(run);
}

// Newest first, as the server orders them: created_at, then id.
function newer(a, b) {
  const ta = Date.parse(a.created_at), tb = Date.parse(b.created_at);
  return ta !== tb ? ta > tb : Number(a.id) > Number(b.id);
}

function rowKey(row) {
  return { id: row.dataset.run, created_at: row.querySelector("time")?.getAttribute("datetime") };
}

function statusOf(row) {
  return row.querySelector('[data-field="status"]')?.textContent.trim();
}

function truncate(text) {
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;  // as the server's truncatechars:90
}

function render(row, run) {
  const badge = row.querySelector('[data-field="status"]');
  if (run.status && badge) { badge.textContent = run.status; badge.className = `badge status-${run.status}`; }
  const duration = row.querySelector('[data-field="duration"]');
  if (duration) {
    if (run.started_at) duration.dataset.started = run.started_at;
    if (run.finished_at) duration.dataset.finished = run.finished_at;
    showDuration(duration);
  }
  const message = row.querySelector('[data-field="message"]');
  if (message && run.message !== undefined && run.message !== null) message.textContent = truncate(run.message);
}

function buildRow(run) {
  const row = document.createElement("tr");
  row.dataset.run = run.id;
  const link = document.createElement("a");
  link.href = `/runs/${run.id}/`;
  link.textContent = `${run.workflow_name} #${run.number}`;
  const cells = ["", "", run.trigger, "", "", ""];
  cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); });
  row.cells[0].appendChild(link);
  const time = document.createElement("time");
  time.setAttribute("datetime", run.created_at);
  time.textContent = run.created_at.slice(0, 19).replace("T", " ");  // as the server writes it
  row.cells[3].appendChild(time);
  row.cells[1].innerHTML = '<span class="badge" data-field="status"></span>';
  row.cells[4].className = "num"; row.cells[4].dataset.field = "duration";
  row.cells[5].className = "muted"; row.cells[5].dataset.field = "message";
  render(row, run);
  return row;
}

// Whether a run falls inside the window a table shows (older runs belong to a later page).
function fits(table, run) {
  const rows = table.tBodies[0].querySelectorAll("tr[data-run]");
  if (!rows.length || !("more" in table.dataset)) return true;
  return newer(run, rowKey(rows[rows.length - 1]));
}

function insertSorted(table, row, run) {
  const body = table.tBodies[0];
  body.querySelector("tr.empty")?.remove();
  const before = [...body.querySelectorAll("tr[data-run]")].find((other) => newer(run, rowKey(other)));
  body.insertBefore(row, before || null);
  const limit = Number(table.dataset.limit);
  if (limit) {
    const rows = body.querySelectorAll("tr[data-run]");
    for (let i = rows.length - 1; i >= limit; i -= 1) rows[i].remove();
    if (rows.length > limit) table.dataset.more = "";
  }
}

function markEmpty(table) {
  const body = table.tBodies[0];
  if (body.querySelector("tr[data-run], tr.empty")) return;
  const row = body.insertRow();
  row.className = "empty";
  const cell = row.insertCell();
  cell.colSpan = 6; cell.className = "muted"; cell.textContent = table.dataset.empty || "";
}

// A run the page does not show yet: into each table that holds it, at its place by age.
function place(run) {
  if (rowsFor(run.id).length) return;  // never two rows for one run
  for (const table of tables) {
    if (accepts(table, run) && fits(table, run)) insertSorted(table, buildRow(run), run);
  }
}

// A shown run whose status changed: the overview moves it between "going on now" and
// "recent"; the run list keeps it in view (it was on screen when it changed).
function settle(id) {
  for (const row of rowsFor(id)) {
    const table = row.closest("table");
    const run = { ...rowKey(row), status: statusOf(row) };
    if (table.dataset.liveRuns === "list" || accepts(table, run)) continue;
    row.remove();
    markEmpty(table);
    const target = tables.find((other) => other !== table && accepts(other, run) && fits(other, run));
    if (target && !rowsFor(id).length) insertSorted(target, row, run);
  }
}

function fresh(run) {
  if ((seen.get(run.id) ?? -1) >= run.seq) return false;
  seen.set(run.id, run.seq);
  return true;
}

function countActive() {
  const active = document.getElementById("active-count");
  if (active) active.textContent = document.querySelectorAll('tr[data-run] [data-field="status"].status-running, tr[data-run] [data-field="status"].status-queued').length;
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
    // Events that came while we fetched: apply the ones newer than what the API returned.
    const event = latest.get(id);
    const current = event && event.seq > (run.last_seq || 0) ? { ...run, ...event } : run;
    seen.set(id, Math.max(seen.get(id) ?? -1, run.last_seq || 0, current.seq || 0));
    place(current);
    countActive();
  } finally {
    inserting.delete(id);
    latest.delete(id);
  }
}

// A run event (only the fields that changed) or a snapshot row (the whole run), each current to
// its seq: newer than what the page has, it replaces it; a run the page lacks is placed where it
// belongs (an event's run is fetched whole first).
function learn(run, whole) {
  if (run.kind !== "run" || !fresh(run)) return;
  const rows = rowsFor(run.id);
  if (rows.length) {
    rows.forEach((row) => render(row, run));
    settle(run.id);
  } else if (whole && !inserting.has(run.id)) {
    place(run);
  } else {
    const before = latest.get(run.id);
    latest.set(run.id, before ? { ...before, ...run } : run);
    insert(run.id);
  }
}

// The overview's other cards (7-day runs and failures, workflows) are counted by the server:
// fetched again, at most every STATS_EVERY ms, once a run starts or changes status.
const statsNode = document.getElementById("overview-stats");
const STATS_EVERY = 500;
let statsTimer = null;
let statsFetching = false;
let statsAgain = false;

function showStats(stats) {
  const set = (id, text) => { const node = document.getElementById(id); if (node) node.textContent = text; };
  set("week-total", stats.week_total);
  set("week-failed", stats.week_failed);
  set("failure-rate", stats.failure_rate === null ? "–" : `${stats.failure_rate.toFixed(1)}%`);
  set("workflow-count", stats.workflow_count);
}

function refreshStats() {
  if (!statsNode) return;
  if (statsFetching) { statsAgain = true; return; }  // that answer may predate this change
  if (!statsTimer) statsTimer = setTimeout(fetchStats, STATS_EVERY);  // else the coming fetch sees it too
}

async function fetchStats() {
  statsTimer = null;
  statsFetching = true;
  try {
    const response = await fetch(statsNode.dataset.url, { headers: { Accept: "application/json" } });
    if (response.ok) showStats(await response.json());
  } catch {
    // The server is away: the snapshot after the socket's reconnect asks again.
  } finally {
    statsFetching = false;
    if (statsAgain) { statsAgain = false; refreshStats(); }
  }
}

function apply(event) {
  learn(event, false);
  countActive();
  if (event.kind === "run" && event.status) refreshStats();
}

function resync(snapshot) {
  const runs = [...(snapshot.runs || [])].sort((a, b) => (newer(a, b) ? -1 : 1));
  runs.forEach((run) => learn(run, true));
  countActive();
  refreshStats();  // what changed while the socket was down
}

function livePath() {
  const ids = [...new Set([...document.querySelectorAll("tr[data-run]")].map((row) => row.dataset.run))];
  const params = new URLSearchParams();
  if (ids.length) params.set("runs", ids.slice(0, SHOWN).join(","));
  if (filters.workflow) params.set("workflow", filters.workflow);
  if (filters.status) params.set("status", filters.status);
  const query = params.toString();
  return query ? `/ws/runs/?${query}` : "/ws/runs/";
}

function showDuration(cell) {
  const seconds = elapsed(cell.dataset.started, cell.dataset.finished);
  if (seconds !== null) cell.textContent = formatSeconds(seconds);
}

function tick() {
  document.querySelectorAll('[data-field="duration"]').forEach(showDuration);
}

if (tables.length) {
  const state = document.getElementById("live-state");
  window.__live = connectLive(livePath, {
    onEvent: apply,
    onSnapshot: resync,
    onStatus: (s) => setLiveState(state, s),
  });
  setInterval(tick, 1000);
}
