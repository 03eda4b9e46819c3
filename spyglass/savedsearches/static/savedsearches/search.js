// The issue stream's search box: autocomplete of keys, then of the chosen key's top values,
// in a listbox under the input (the ARIA 1.2 combobox pattern: arrows move, Enter picks,
// Escape closes). Items come from the page's autocomplete URL as JSON; text only, never HTML.
"use strict";

(function () {
  function setup(input) {
    var listbox = document.getElementById(input.getAttribute("aria-controls"));
    var url = input.getAttribute("data-autocomplete-url");
    if (!listbox || !url) return;
    var items = [];
    var active = -1;
    var pending = null;
    var timer = null;

    function word() {
      // The word at the caret: from the last space (outside quotes) before it to the caret.
      var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
      var text = input.value.slice(0, caret);
      var start = 0;
      var quoted = false;
      for (var i = 0; i < text.length; i++) {
        var c = text[i];
        if (c === "\\") { i++; continue; }
        if (c === '"') quoted = !quoted;
        else if (!quoted && (c === " " || c === "(")) start = i + 1;
      }
      return { start: start, end: caret, text: text.slice(start) };
    }

    function close() {
      listbox.hidden = true;
      listbox.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      items = [];
      active = -1;
    }

    function show(found) {
      listbox.textContent = "";
      items = found;
      active = -1;
      if (!items.length) { close(); return; }
      items.forEach(function (item, index) {
        var option = document.createElement("li");
        option.id = "stream-query-option-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        var label = document.createElement("span");
        label.className = "option-label";
        label.textContent = item.label;
        option.appendChild(label);
        if (item.detail) {
          var detail = document.createElement("span");
          detail.className = "option-detail";
          detail.textContent = item.detail;
          option.appendChild(detail);
        }
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the input
          pick(index);
        });
        listbox.appendChild(option);
      });
      listbox.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function highlight(index) {
      var options = listbox.querySelectorAll("[role=option]");
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function pick(index) {
      var item = items[index];
      if (!item) return;
      var at = word();
      var before = input.value.slice(0, at.start);
      var after = input.value.slice(at.end);
      input.value = before + item.text + after;
      var caret = (before + item.text).length;
      input.setSelectionRange(caret, caret);
      close();
      input.focus();
      // a key was chosen: its values come next
      if (item.text.slice(-1) === ":") fetchItems();
    }

    function fetchItems() {
      var at = word();
      if (pending) pending.abort();
      pending = new AbortController();
      var query = url + "?term=" + encodeURIComponent(at.text);
      fetch(query, { signal: pending.signal, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { items: [] }; })
        .then(function (body) {
          if (document.activeElement === input) show(body.items || []);
        })
        .catch(function () { /* aborted or offline: nothing to show */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchItems, 120);
    });
    input.addEventListener("focus", function () {
      if (!input.value) fetchItems();
    });
    input.addEventListener("keydown", function (event) {
      var open = !listbox.hidden && items.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) { fetchItems(); return; }
        highlight((active + 1) % items.length);
      } else if (event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault(); // pick, don't submit
          pick(active);
        } else {
          close();
        }
      } else if (event.key === "Escape") {
        if (open) {
          event.preventDefault();
          close();
        }
      } else if (event.key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(close, 100);
    });
  }

  function start() {
    document.querySelectorAll("input[data-autocomplete-url]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
