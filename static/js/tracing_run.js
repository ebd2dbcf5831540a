// Run page: the run's trace as a waterfall below the DAG, growing live with span events.
import { Waterfall, renderDetail, logLinkElement, paintTraceSummary } from "./waterfall.js";

const panel = document.getElementById("trace-panel");
if (panel) {
  const detail = document.getElementById("run-waterfall-detail");
  const summary = document.getElementById("trace-summary");
  const link = document.getElementById("trace-link");
  let origin = null;

  // The run page's own task panel opens from its task table; open it there, on the span's attempt.
  const openLog = (span) => (event) => {
    const opener = document.querySelector(`#task-table tr[data-task-run="${span.taskrun}"] a.open-task`);
    if (!opener) return;
    event.preventDefault();
    opener.click();
    if (!span.attempt) return;
    let tries = 0;
    const pick = setInterval(() => {
      const select = document.getElementById("log-attempt");
      const option = select && [...select.options].find((o) => Number(o.value) === span.attempt);
      if (option || ++tries > 60) clearInterval(pick);
      if (option && !option.selected) { select.value = String(span.attempt); select.dispatchEvent(new Event("change")); }
    }, 50);
    document.getElementById("panel")?.scrollIntoView({ behavior: "smooth", block: "start" });
  };
  const logLink = (span) => logLinkElement(`#task-${span.taskrun}`, span, openLog(span));

  const waterfall = new Waterfall(document.getElementById("run-waterfall"), {
    emptyText: "No spans yet: they appear as the run goes on.",
    onSelect: (span) => renderDetail(detail, span, { origin, logLink }),
  });
  window.__waterfall = waterfall;

  const paint = (trace) => {
    if (!trace) return;
    paintTraceSummary(summary, trace);
    link.href = trace.url;
    link.hidden = false;
    panel.dataset.trace = trace.trace_id;
    panel.dataset.status = trace.status;
  };
  const updateOrigin = () => {
    const starts = [...waterfall.spans.values()].map((s) => s.start_us);
    origin = starts.length ? Math.min(...starts) : null;
    panel.dataset.spans = String(waterfall.spans.size);
  };

  document.addEventListener("run:snapshot", (event) => {
    const part = (event.detail.extras || {}).tracing;
    if (!part) { waterfall.set([]); panel.dataset.spans = "0"; return; }
    waterfall.set(part.spans);
    paint(part.trace);
    updateOrigin();
  });
  document.addEventListener("run:event", (event) => {
    const data = event.detail;
    if (data.kind === "span") { waterfall.merge(data.spans); updateOrigin(); }
    else if (data.kind === "trace") {
      paint(data.trace);
      if (data.dropped) { waterfall.set([]); updateOrigin(); }
    }
  });
  setInterval(() => waterfall.tick(), 500);
}
