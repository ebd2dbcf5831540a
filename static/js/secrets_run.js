// Run page: the secrets panel follows the run live: each attempt's reads (lineage, never values)
// and the warnings and errors about its secrets (run:snapshot replaces, run:event appends).
const panel = document.getElementById("secrets-panel");
const body = document.querySelector("#secret-reads tbody");
const notices = document.getElementById("secret-notices");
const summary = document.getElementById("secrets-summary");

function cell(text, className = "mono") {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text ?? "";
  return td;
}

function readRow(read) {
  const tr = document.createElement("tr");
  const version = cell(read.version || "—");
  if (read.requested_version) {
    const asked = document.createElement("span");
    asked.className = "muted small";
    asked.textContent = ` (asked @${read.requested_version})`;
    version.append(asked);
  }
  if (read.cached) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.title = "served from the run's cache";
    tag.textContent = "cached";
    version.append(" ", tag);
  }
  tr.append(cell(read.node), cell(read.attempt, "num"), cell(read.env), cell(read.provider), cell(read.path),
    cell(read.key), version);
  return tr;
}

function noticeItem(notice) {
  const li = document.createElement("li");
  li.className = `notice-${notice.level}`;
  const level = document.createElement("strong");
  level.textContent = notice.level;
  li.append(level);
  if (notice.node) {
    const node = document.createElement("span");
    node.className = "mono";
    node.textContent = notice.node;
    li.append(" ", node, notice.attempt ? ` attempt ${notice.attempt}` : "");
  }
  li.append(`: ${notice.message}`);
  return li;
}

function count() {
  const n = body.children.length;
  summary.textContent = n ? `${n} read${n === 1 ? "" : "s"}` : "none read yet";
}

if (panel) {
  document.addEventListener("run:snapshot", (event) => {
    const part = event.detail.extras?.secrets;
    if (!part) return;
    body.replaceChildren(...part.reads.map(readRow));
    notices.replaceChildren(...part.notices.map(noticeItem));
    count();
  });
  document.addEventListener("run:event", (event) => {
    const e = event.detail;
    if (e.kind !== "secrets") return;
    body.append(...(e.reads || []).map(readRow));
    notices.append(...(e.notices || []).map(noticeItem));
    count();
  });
}
