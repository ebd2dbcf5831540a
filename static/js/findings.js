// Findings list: pick findings (one by one, all on the page, or a shift-click range) for a bulk triage.
const form = document.getElementById("bulk-form");
const bar = document.getElementById("bulk-bar");
const boxes = [...document.querySelectorAll('#finding-table input[name="ids"]')];
const all = document.getElementById("select-all");
let last = null;

function refresh() {
  if (!bar) return;
  const picked = boxes.filter((b) => b.checked).length;
  document.getElementById("bulk-count").textContent = `${picked} selected`;
  document.getElementById("bulk-apply").disabled = picked === 0;
  if (all) {
    all.checked = picked > 0 && picked === boxes.length;
    all.indeterminate = picked > 0 && picked < boxes.length;
  }
  for (const box of boxes) box.closest("tr").classList.toggle("picked", box.checked);
}

function showExpiry() {
  const state = form.querySelector('select[name="state"]');
  const until = document.getElementById("until-label");
  if (state && until) until.hidden = state.value !== "accepted_risk";
}

boxes.forEach((box, index) => box.addEventListener("click", (event) => {
  if (event.shiftKey && last !== null) {
    const [from, to] = [Math.min(last, index), Math.max(last, index)];
    for (let i = from; i <= to; i++) boxes[i].checked = box.checked;
  }
  last = index;
  refresh();
}));
all?.addEventListener("change", () => { boxes.forEach((b) => { b.checked = all.checked; }); refresh(); });
form?.querySelector('select[name="state"]')?.addEventListener("change", showExpiry);
form?.addEventListener("submit", (event) => {
  const picked = boxes.filter((b) => b.checked).length;
  const state = form.querySelector('select[name="state"]');
  const label = state.options[state.selectedIndex].text;
  if (!window.confirm(`Set ${picked} finding${picked === 1 ? "" : "s"} to "${label}"?`)) event.preventDefault();
});
document.querySelectorAll("#finding-filters select").forEach((s) => s.addEventListener("change", () => s.form.submit()));
showExpiry();
refresh();
