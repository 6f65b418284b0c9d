// Live campaign figures: each [data-live] block follows its campaign's event stream
// (Server-Sent Events) and falls back to fetching the JSON every 30 s where
// EventSource is missing. Without JavaScript the page shows the figures at load.
"use strict";
(function () {
  var POLL_MS = 30000;

  function show(block, figures) {
    var d = figures.display;
    if (!d) { return; }
    var bar = block.querySelector("[data-bar]");
    var fill = block.querySelector("[data-fill]");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(d.bar));
      bar.setAttribute("aria-valuetext", d.summary + " (" + d.percent + "%)");
    }
    if (fill) { fill.setAttribute("width", String(d.bar)); }
    var put = function (sel, text) {
      var el = block.querySelector(sel);
      if (el) { el.textContent = text; }
    };
    put("[data-summary]", d.summary);
    put("[data-percent]", String(d.percent));
    put("[data-donations]", d.donations);
    var monthly = block.querySelector("[data-monthly]");
    if (monthly && typeof d.monthly === "string") {
      monthly.textContent = d.monthly;
      monthly.hidden = !d.monthly;
    }
  }

  function poll(block) {
    var url = block.getAttribute("data-json");
    var tick = function () {
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (f) { if (f) { show(block, f); } })
        .catch(function () {});
    };
    setInterval(tick, POLL_MS);
  }

  function follow(block) {
    if (!window.EventSource) { poll(block); return; }
    var source = new EventSource(block.getAttribute("data-events"));
    source.addEventListener("progress", function (e) {
      try { show(block, JSON.parse(e.data)); } catch (err) { /* a bad frame: keep the last */ }
    });
  }

  function start() {
    var blocks = document.querySelectorAll("[data-live]");
    for (var i = 0; i < blocks.length; i++) { follow(blocks[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
