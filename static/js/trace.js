// Trace page: one run's waterfall; while the run goes on, it follows the run's live events.
import { connectLive, setLiveState, formatSeconds } from "./live.js";
import { Waterfall, renderDetail, logLinkElement, paintTraceSummary } from "./waterfall.js";

const head = document.getElementById("trace-head");
const runId = Number(head.dataset.run);
const data = JSON.parse(document.getElementById("trace-data").textContent);
const detail = document.getElementById("trace-waterfall-detail");
let origin = null;
const logLink = (span) => logLinkElement(`/runs/${runId}/#task-${span.taskrun}`, span);
const waterfall = new Waterfall(document.getElementById("trace-waterfall"), {
  onSelect: (span) => renderDetail(detail, span, { origin, logLink }),
});
window.__waterfall = waterfall;
const FINAL = new Set(["success", "failed", "cancelled"]);

function paint(trace) {
  paintTraceSummary(document.getElementById("trace-summary"), trace);
  const badge = document.getElementById("trace-status");
  badge.textContent = trace.status;
  badge.className = `badge status-${trace.status}`;
  if (trace.duration_s !== null && trace.duration_s !== undefined) {
    document.getElementById("trace-duration").textContent = formatSeconds(trace.duration_s);
  }
}
function load(spans) {
  waterfall.set(spans);
  const starts = spans.map((s) => s.start_us);
  origin = starts.length ? Math.min(...starts) : null;
}

load(data.spans);
paint(data.trace);
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("span")) waterfall.select(params.get("span"));

if (!FINAL.has(data.trace.status)) {
  connectLive(`/ws/runs/${runId}/`, {
    sequenced: true,
    onSnapshot: (snapshot) => {
      const part = (snapshot.extras || {}).tracing;
      if (part) { load(part.spans); paint(part.trace); }
    },
    onEvent: (event) => {
      if (event.kind === "span") waterfall.merge(event.spans);
      else if (event.kind === "trace") paint(event.trace);
    },
    onStatus: (s) => setLiveState(document.getElementById("live-state"), s),
  });
  setInterval(() => waterfall.tick(), 500);
}
