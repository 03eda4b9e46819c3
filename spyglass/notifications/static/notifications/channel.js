// While deliveries wait, reload the channel page every two seconds so the log shows their
// attempts as the worker makes them (at most a minute of reloads).
(function () {
  "use strict";
  var log = document.getElementById("delivery-log");
  var key = "spyglass-channel-reloads:" + location.pathname;
  if (!log || !log.hasAttribute("data-pending")) { sessionStorage.removeItem(key); return; }
  var count = Number(sessionStorage.getItem(key) || "0");
  if (count >= 30) { sessionStorage.removeItem(key); return; }
  setTimeout(function () {
    sessionStorage.setItem(key, String(count + 1));
    location.reload();
  }, 2000);
})();
