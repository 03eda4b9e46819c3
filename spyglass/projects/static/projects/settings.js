// Settings pages: "Copy" buttons copy the text of the element named by data-copy-from
// (an input's value, or a block's text) with the Clipboard API.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.copy[data-copy-from]").forEach((button) => {
    const label = button.textContent;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copyFrom);
      if (!source) return;
      const text = "value" in source ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (error) {
        // No clipboard (an insecure origin, or permission refused): select it for Ctrl+C.
        if (source.select) source.select();
        button.textContent = "Press Ctrl+C";
      }
      button.dataset.copied = text;
      window.setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
});
