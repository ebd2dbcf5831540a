// Workflow form: clicking an error (or its line in the listing) puts the cursor on that line.
const source = document.getElementById("source");

function goToLine(line) {
  if (!source) return;
  const lines = source.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, text) => n + text.length + 1, 0);
  const end = start + (lines[line - 1] || "").length;
  source.focus();
  source.setSelectionRange(start, end);
  const lineHeight = parseFloat(getComputedStyle(source).lineHeight) || 18;
  source.scrollTop = Math.max(0, (line - 4) * lineHeight);
}

document.querySelectorAll("[data-line]").forEach((element) => {
  element.addEventListener("click", (event) => {
    event.preventDefault();
    goToLine(Number(element.dataset.line));
  });
});
