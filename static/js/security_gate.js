// Run page: the security gate's node and panel follow the gate live (run:snapshot / run:event).
const NODE = "security:gate";
const NODE_STATUS = { pending: "pending", running: "running", passed: "success", blocked: "failed", error: "failed" };
const panel = document.getElementById("gate-panel");
const node = document.querySelector(`#dag g.node[data-node="${NODE}"]`);

function paint(gate) {
  if (!gate || !gate.status) return;
  const status = gate.status;
  if (node) {
    node.setAttribute("class", `node pre status-${NODE_STATUS[status] || "pending"}`);
    const meta = node.querySelector(".meta");
    const blocking = (gate.blocking || []).length;
    if (meta) meta.textContent = status === "blocked" ? `${blocking} blocking` : status === "running" ? "scanning…" : status;
  }
  if (!panel) return;
  panel.dataset.status = status;
  const badge = document.getElementById("gate-status");
  badge.textContent = status;
  badge.className = `gate-status gate-${status}`;
  if (gate.message !== undefined) {
    const message = document.getElementById("gate-message");
    message.textContent = gate.message || "";
    message.className = status === "blocked" || status === "error" ? "error" : "muted";
  }
  const scan = document.getElementById("gate-scan");
  if (gate.scan_url) { scan.href = gate.scan_url; scan.textContent = `scan #${gate.scan}`; scan.hidden = false; }
  const list = document.getElementById("gate-blocking");
  list.replaceChildren(...(gate.blocking || []).map((b) => {
    const li = document.createElement("li");
    const sev = document.createElement("span"); sev.className = `sev sev-${b.severity}`; sev.textContent = b.severity;
    const link = document.createElement("a"); link.href = b.url; link.textContent = b.title;
    const where = document.createElement("span"); where.className = "mono small"; where.textContent = b.location;
    const about = document.createElement("span"); about.className = "muted small"; about.textContent = `${b.tool} · ${b.state}`;
    li.append(sev, " ", link, " ", where, " ", about);
    return li;
  }));
}

document.addEventListener("run:snapshot", (event) => paint(event.detail.extras?.security));
document.addEventListener("run:event", (event) => { if (event.detail.kind === "gate") paint(event.detail); });
const open = () => panel?.scrollIntoView({ behavior: "smooth", block: "center" });
node?.addEventListener("click", open);
node?.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") open(); });
