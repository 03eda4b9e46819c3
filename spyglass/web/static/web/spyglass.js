// Small behaviours, progressive: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Issue stream: "select all" and the bulk buttons follow the checkboxes.
  const form = document.querySelector("form.bulk-form");
  if (form) {
    const boxes = () => Array.from(form.querySelectorAll("input[name=issue]"));
    const all = form.querySelector("input.select-all");
    const count = form.querySelector(".bulk .count");
    const buttons = Array.from(form.querySelectorAll(".bulk button"));
    const update = () => {
      const selected = boxes().filter((box) => box.checked).length;
      buttons.forEach((button) => { button.disabled = selected === 0; });
      if (count) count.textContent = selected ? `${selected} selected` : "Select issues to act on them";
      if (all) all.checked = selected > 0 && selected === boxes().length;
    };
    if (all) all.addEventListener("change", () => {
      boxes().forEach((box) => { box.checked = all.checked; });
      update();
    });
    form.addEventListener("change", update);
    update();
  }
  // Filters submit on change of a select (the search box submits on Enter).
  document.querySelectorAll("form.filters select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  // Menus close when clicking elsewhere.
  document.addEventListener("click", (event) => {
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
});
