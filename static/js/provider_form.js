// Secret provider pages: the form shows the chosen kind's fields (and of those, the ones that
// apply: AppRole's role id only with AppRole auth), and "Test connection" answers in place.
const form = document.getElementById("provider-form");
const result = document.getElementById("test-result");

function applies(input, kind) {
  const when = input.dataset.when ? JSON.parse(input.dataset.when) : {};
  return Object.entries(when).every(([name, values]) => {
    const other = form.querySelector(`[data-kind="${kind}"][data-field="${name}"]`);
    return other && values.includes(other.type === "checkbox" ? String(other.checked) : other.value);
  });
}

function showKind() {
  const kind = form.querySelector("[name=kind]").value;
  for (const set of form.querySelectorAll("[data-kind-fields]")) {
    const mine = set.dataset.kindFields === kind;
    set.hidden = !mine;
    // Another kind's inputs are not sent at all (and its credentials never leave the page).
    for (const input of set.querySelectorAll("input, select, textarea")) input.disabled = !mine;
    if (!mine) continue;
    for (const input of set.querySelectorAll("[data-field]")) {
      const row = input.closest(".field");
      const on = applies(input, kind);
      row.hidden = !on;
      for (const el of row.querySelectorAll("input, select, textarea")) el.disabled = !on;
    }
  }
}

function show(outcome) {
  result.hidden = false;
  result.className = `test-result ${outcome.ok ? "ok" : `bad kind-${outcome.kind || "error"}`}`;
  result.textContent = `${outcome.ok ? "✓" : "✗"} ${outcome.message}`;
}

function markErrors(errors) {
  if (!form) return;
  for (const row of form.querySelectorAll(".field.js-error")) {
    row.classList.remove("has-error", "js-error");
    row.querySelector(".error.js")?.remove();
  }
  for (const [name, message] of Object.entries(errors || {})) {
    const row = form.querySelector(`[data-row="${CSS.escape(name)}"]`);
    if (!row) continue;
    row.classList.add("has-error", "js-error");
    const p = document.createElement("p");
    p.className = "error small js";
    p.textContent = message;
    row.append(p);
  }
}

async function test(url, body) {
  show({ ok: true, message: "testing…" });
  result.className = "test-result pending";
  try {
    const response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(response.status === 403 ? "you may not test this provider" : `HTTP ${response.status}`);
    const outcome = await response.json();
    markErrors(outcome.errors && !outcome.ok && outcome.kind === "config" ? outcome.errors : {});
    show(outcome);
  } catch (error) {
    show({ ok: false, kind: "error", message: `the test did not run: ${error.message}` });
  }
}

if (form) {
  form.addEventListener("change", showKind);
  showKind();
  const button = document.getElementById("test-connection");
  button.addEventListener("click", (event) => {
    event.preventDefault();
    test(button.formAction, new FormData(form));
  });
}

const stored = document.querySelector("form[data-test-form]");
if (stored) {
  stored.addEventListener("submit", (event) => {
    event.preventDefault();
    test(stored.action, new FormData(stored));
  });
}
