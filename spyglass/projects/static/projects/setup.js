// An empty project's page: ask the server every few seconds whether the first event has
// arrived, and when it has, show it (and link to its issue) without a reload.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("first-event");
  if (!box) return;
  const url = box.dataset.pollUrl;
  let delay = 2000;
  const poll = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        if (data.received) {
          box.querySelector(".waiting-state").hidden = true;
          box.querySelector(".received-state").hidden = false;
          box.querySelector(".issue-link").href = data.issueUrl;
          box.querySelector(".stream-link").href = data.streamUrl;
          box.classList.add("received");
          return;
        }
        delay = 2000;
      } else {
        delay = Math.min(delay * 2, 30000);
      }
    } catch (error) {
      delay = Math.min(delay * 2, 30000);  // offline or restarting: back off
    }
    window.setTimeout(poll, delay);
  };
  window.setTimeout(poll, delay);
});
