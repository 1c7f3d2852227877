// The console's live parts: server-sent events say what changed, htmx fetches it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  function follow(element, url, events) {
    var source = new EventSource(url);
    Object.keys(events).forEach(function (name) {
      source.addEventListener(name, function () {
        var part = events[name];
        htmx.ajax("GET", part.from, { target: part.into, swap: "innerHTML" });
      });
    });
    window.addEventListener("beforeunload", function () { source.close(); });
  }
  var live = document.querySelector("[data-live-events]");
  if (live) {
    follow(live, live.dataset.liveEvents, {
      run: { from: "/live/panel", into: "#live-panel" },
      prompts: { from: "/live/prompts", into: "#prompts" },
    });
  }
  var bench = document.querySelector("[data-bench-events]");
  if (bench) {
    follow(bench, bench.dataset.benchEvents, {
      bench: { from: "/bench/panel", into: "#bench-panel" },
    });
  }
});
