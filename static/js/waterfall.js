// A trace waterfall: one row per span, nested under its parent, a bar by start and duration,
// coloured by status. Running spans grow with the clock. Used on the run page, the trace page
// and the compare page; the page feeds it spans (a snapshot, then span events).
import { formatSeconds, formatBytes } from "./live.js";

const RUNNER_STATES = {
  success: "ok", failed: "error", timeout: "error", cancelled: "cancelled", skipped: "skipped",
  upstream_failed: "upstream_failed", reused: "reused", running: "running",
};

export function spanState(span) {
  if (span.duration_us === null || span.duration_us === undefined) return "running";
  const runner = (span.attributes || {})["runner.status"];
  if (runner && RUNNER_STATES[runner] && runner !== "running") return RUNNER_STATES[runner];
  // UNSET is what a span without an error ends with (OpenTelemetry sets OK only on request).
  return span.status === "error" ? "error" : "ok";
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export const seconds = (us) => (us === null || us === undefined ? "" : formatSeconds(us / 1e6));

export class Waterfall {
  // options: onSelect(span), scaleUs (a fixed time span, so two waterfalls share one scale)
  constructor(root, options = {}) {
    this.root = root;
    this.options = options;
    this.spans = new Map();
    this.selected = null;
    this.pending = false;
    root.classList.add("waterfall");
    this.axis = el("div", "wf-axis");
    this.body = el("div", "wf-body");
    this.empty = el("p", "muted wf-empty", options.emptyText || "No spans yet.");
    root.replaceChildren(this.axis, this.body, this.empty);
    const pick = (event) => {
      const row = event.target.closest(".wf-row");
      if (!row || !this.root.contains(row)) return;
      this.select(row.dataset.span);
    };
    this.body.addEventListener("click", pick);
    this.body.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(event); }
    });
  }

  set(spans) {
    this.spans.clear();
    this.merge(spans || []);
  }

  // A span that has ended is never turned back into a running one by an older copy.
  merge(spans) {
    for (const span of spans) {
      const current = this.spans.get(span.span_id);
      if (current && current.duration_us !== null && current.duration_us !== undefined
          && (span.duration_us === null || span.duration_us === undefined)) continue;
      this.spans.set(span.span_id, span);
    }
    if (this.selected && this.spans.has(this.selected) && this.options.onSelect) {
      this.options.onSelect(this.spans.get(this.selected));
    }
    this.schedule();
  }

  select(spanId) {
    this.selected = spanId;
    for (const row of this.body.querySelectorAll(".wf-row.selected")) row.classList.remove("selected");
    const row = this.body.querySelector(`.wf-row[data-span="${spanId}"]`);
    if (row) row.classList.add("selected");
    if (this.options.onSelect) this.options.onSelect(this.spans.get(spanId) || null);
  }

  get running() {
    for (const span of this.spans.values()) if (spanState(span) === "running") return true;
    return false;
  }

  // Called every half second by the page: running bars grow.
  tick() { if (this.running) this.schedule(); }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  // Parents before children, siblings by start time; a span whose parent is not here is a root.
  ordered() {
    const children = new Map();
    const roots = [];
    for (const span of this.spans.values()) {
      if (span.parent_id && this.spans.has(span.parent_id) && span.parent_id !== span.span_id) {
        if (!children.has(span.parent_id)) children.set(span.parent_id, []);
        children.get(span.parent_id).push(span);
      } else roots.push(span);
    }
    const byStart = (a, b) => a.start_us - b.start_us || (a.name < b.name ? -1 : 1);
    const out = [];
    const seen = new Set();
    const walk = (span, depth) => {
      if (seen.has(span.span_id)) return;
      seen.add(span.span_id);
      out.push([span, depth]);
      for (const child of (children.get(span.span_id) || []).sort(byStart)) walk(child, depth + 1);
    };
    for (const span of roots.sort(byStart)) walk(span, 0);
    return out;
  }

  bounds() {
    const nowUs = Date.now() * 1000;
    let start = Infinity, end = -Infinity;
    for (const span of this.spans.values()) {
      start = Math.min(start, span.start_us);
      const stop = span.duration_us === null || span.duration_us === undefined ? Math.max(nowUs, span.start_us) : span.start_us + span.duration_us;
      end = Math.max(end, stop);
    }
    if (start === Infinity) return [0, 1];
    const range = Math.max(this.options.scaleUs || 0, end - start, 1000);
    return [start, range];
  }

  render() {
    const rows = this.ordered();
    this.empty.hidden = rows.length > 0;
    this.root.classList.toggle("is-empty", rows.length === 0);
    const [origin, range] = this.bounds();
    this.paintAxis(range);
    const nowUs = Date.now() * 1000;
    const fragment = document.createDocumentFragment();
    for (const [span, depth] of rows) {
      const state = spanState(span);
      const attrs = span.attributes || {};
      const row = el("div", `wf-row state-${state}${span.source === "child" ? " child" : ""}${span.span_id === this.selected ? " selected" : ""}`);
      row.dataset.span = span.span_id;
      row.tabIndex = 0;
      const label = el("div", "wf-label");
      label.style.paddingLeft = `${6 + depth * 14}px`;
      label.append(el("span", "wf-name", span.name || "(unnamed)"));
      if (attrs["runner.attempt"] > 1) label.append(el("span", "wf-attempt", `#${attrs["runner.attempt"]}`));
      if (span.source === "child" && span.service) label.append(el("span", "wf-service", span.service));
      label.title = span.name;
      const track = el("div", "wf-track");
      const duration = state === "running" ? Math.max(0, nowUs - span.start_us) : span.duration_us;
      const left = ((span.start_us - origin) / range) * 100;
      const width = (duration / range) * 100;
      const bar = el("div", `wf-bar${duration === 0 ? " instant" : ""}`);
      bar.style.left = `${Math.max(0, Math.min(100, left))}%`;
      bar.style.width = `${Math.max(0, Math.min(100 - left, width))}%`;
      const wait = attrs["runner.queue_wait_s"];
      if (wait && duration > 0) {
        const part = el("div", "wf-wait");
        part.style.width = `${Math.min(100, (wait * 1e6 / duration) * 100)}%`;
        part.title = `waited ${formatSeconds(wait)} for a free slot`;
        bar.append(part);
      }
      const text = el("span", "wf-dur", state === "running" ? `${seconds(duration)} …` : seconds(duration));
      const end = left + width;
      if (end <= 82) text.style.left = `${Math.max(0, end)}%`;
      else if (width > 9) { text.classList.add("inside"); text.style.right = `${Math.max(0, 100 - end)}%`; }
      else { text.classList.add("before"); text.style.right = `${Math.max(0, 100 - left)}%`; }
      track.append(bar, text);
      row.append(label, track);
      fragment.append(row);
    }
    this.body.replaceChildren(fragment);
  }

  paintAxis(range) {
    const steps = [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 3e7, 6e7, 12e7, 3e8, 6e8, 18e8, 36e8];
    // As many ticks as fit, about one per 80 px of the time track.
    const track = Math.max(100, this.root.clientWidth - 330);
    const most = Math.max(2, Math.min(8, Math.floor(track / 80)));
    const step = steps.find((s) => range / s <= most) || range / most;
    const ticks = [el("div", "wf-label muted", "span")];
    const scale = el("div", "wf-track");
    for (let t = 0; t <= range; t += step) {
      const tick = el("span", "wf-tick", seconds(t) || "0s");
      tick.style.left = `${(t / range) * 100}%`;
      scale.append(tick);
    }
    ticks.push(scale);
    this.axis.replaceChildren(...ticks);
  }
}

// The details of one span: facts, attributes, events, and a link to its task's log lines.
export function renderDetail(box, span, { origin = null, logLink = null } = {}) {
  if (!span) { box.hidden = true; box.replaceChildren(); return; }
  box.hidden = false;
  const attrs = span.attributes || {};
  const state = spanState(span);
  const head = el("h3", "wf-detail-head");
  head.append(el("span", "", span.name || "(unnamed)"), el("span", `badge state-${state}`, state.replace("_", " ")));
  const facts = [
    ["Service", span.service || "–"], ["Source", span.source === "child" ? "task's own script" : "runner"],
    ["Span id", span.span_id], ["Parent", span.parent_id || "–"], ["Kind", span.kind],
    ["Started", origin !== null ? `+${seconds(span.start_us - origin) || "0s"}` : new Date(span.start_us / 1000).toLocaleTimeString()],
    ["Duration", state === "running" ? "running" : seconds(span.duration_us) || "0s"],
  ];
  if (attrs["runner.queue_wait_s"] !== undefined) facts.push(["Queue wait", formatSeconds(attrs["runner.queue_wait_s"])]);
  if (attrs["runner.peak_rss_bytes"]) facts.push(["Peak memory", formatBytes(attrs["runner.peak_rss_bytes"])]);
  facts.push(["Status", span.status_message ? `${span.status}: ${span.status_message}` : span.status]);
  const table = (rows, className) => {
    const t = el("table", `list kv ${className || ""}`);
    for (const [key, value] of rows) {
      const tr = el("tr");
      tr.append(el("td", "", key), el("td", "mono", typeof value === "object" ? JSON.stringify(value) : value));
      t.append(tr);
    }
    return t;
  };
  const parts = [head];
  if (span.taskrun && logLink) {
    const link = logLink(span);
    if (link) parts.push(link);
  }
  parts.push(table(facts, "wf-facts"));
  const keys = Object.keys(attrs).sort();
  parts.push(el("h4", "", "Attributes"));
  parts.push(keys.length ? table(keys.map((k) => [k, attrs[k]]), "wf-attrs") : el("p", "muted", "None."));
  parts.push(el("h4", "", "Events"));
  const events = span.events || [];
  if (!events.length) parts.push(el("p", "muted", "None."));
  else {
    const list = el("ul", "wf-events");
    for (const event of events) {
      const li = el("li");
      li.append(el("span", "mono muted", `+${seconds(event.ts_us - span.start_us) || "0s"} `), el("strong", "", event.name));
      const extra = Object.entries(event.attributes || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
      if (extra) li.append(el("span", "muted", ` ${extra}`));
      list.append(li);
    }
    parts.push(list);
  }
  box.replaceChildren(...parts);
}

export function logLinkElement(href, span, onClick) {
  const link = el("a", "button wf-log-link", `Log lines of ${(span.attributes || {})["runner.node"] || "its task"}${span.attempt ? `, attempt ${span.attempt}` : ""} →`);
  link.href = href;
  if (onClick) link.addEventListener("click", onClick);
  return link;
}

export function paintTraceSummary(box, trace) {
  if (!box || !trace) return;
  const parts = [];
  const sampled = trace.sampled === null || trace.sampled === undefined ? ["pending", "sampling decided when the run ends"]
    : trace.sampled ? ["kept", trace.decision] : ["dropped", trace.decision];
  const badge = el("span", `badge sample-${sampled[0]}`, sampled[0]);
  badge.title = `sampler ${trace.sampler}: ${sampled[1] || ""}`;
  parts.push(badge);
  parts.push(el("span", "muted", `${trace.sampler}${sampled[1] ? ` · ${sampled[1]}` : ""}`));
  parts.push(el("span", "muted mono", trace.trace_id));
  box.replaceChildren(...parts);
}
