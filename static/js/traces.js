// Trace list: tick exactly two traces to compare them.
const form = document.getElementById("compare-form");
const button = document.getElementById("compare-button");
const update = () => {
  const ticked = form.querySelectorAll('input[name="t"]:checked');
  button.disabled = ticked.length !== 2;
  for (const box of form.querySelectorAll('input[name="t"]')) box.disabled = ticked.length >= 2 && !box.checked;
};
form.addEventListener("change", update);
update();
