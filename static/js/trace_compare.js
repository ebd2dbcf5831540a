// Compare page: two waterfalls on one time scale, and the span-by-span table in readable units.
import { formatSeconds } from "./live.js";
import { Waterfall, renderDetail } from "./waterfall.js";

const data = JSON.parse(document.getElementById("compare-data").textContent);
const extent = (spans) => {
  if (!spans.length) return 0;
  const start = Math.min(...spans.map((s) => s.start_us));
  return Math.max(...spans.map((s) => s.start_us + (s.duration_us || 0))) - start;
};
const scaleUs = Math.max(extent(data.a.spans), extent(data.b.spans));
const detail = document.getElementById("compare-detail");
const sides = {};
for (const side of ["a", "b"]) {
  const origin = data[side].spans.length ? Math.min(...data[side].spans.map((s) => s.start_us)) : null;
  sides[side] = new Waterfall(document.getElementById(`waterfall-${side}`), {
    scaleUs,
    onSelect: (span) => {
      renderDetail(detail, span, { origin });
      highlight(side, span && span.span_id);
    },
  });
  sides[side].set(data[side].spans);
}

// Selecting a span selects its counterpart on the other side, and its row in the table.
function highlight(side, spanId) {
  const row = document.querySelector(`#compare-table tr[data-${side}="${spanId}"]`);
  document.querySelectorAll("#compare-table tr.selected").forEach((tr) => tr.classList.remove("selected"));
  if (!row) return;
  row.classList.add("selected");
  const other = side === "a" ? "b" : "a";
  const twin = row.dataset[other];
  if (twin && sides[other].selected !== twin) {
    sides[other].selected = twin;
    sides[other].render();
  }
}

for (const cell of document.querySelectorAll("#compare-table td[data-us]")) {
  if (cell.dataset.us === "") continue;
  const us = Number(cell.dataset.us);
  const text = formatSeconds(Math.abs(us) / 1e6);
  cell.textContent = cell.classList.contains("delta") ? `${us >= 0 ? "+" : "−"}${text}` : text;
  // Differences under 5 ms are noise on a busy machine, not a change.
  if (cell.classList.contains("delta")) cell.classList.add(us >= 5000 ? "slower" : us <= -5000 ? "faster" : "same");
}
document.querySelector("#compare-table tbody").addEventListener("click", (event) => {
  const row = event.target.closest("tr");
  if (!row) return;
  for (const side of ["a", "b"]) if (row.dataset[side]) sides[side].select(row.dataset[side]);
});
