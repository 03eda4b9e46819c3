// Issue page: the priority and assignee selects submit on change (their buttons stay for
// visitors without JavaScript).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  document.querySelectorAll("select.autosubmit").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
});
