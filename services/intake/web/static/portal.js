// The portal's small enhancements. Every page works without them; with them: dates in the reader's
// time zone (the console keeps UTC), system info filled in, the critical banner where it matters,
// screenshots by drag-and-drop or paste. No build step, no outside host.
(function () {
  "use strict";

  // The console keeps every time in UTC, as its ticket histories and SLA days are written (it says so
  // in its footer); the portal shows the reader's time zone. A <time data-keep> keeps its own words.
  function localTimes(root) {
    if (document.body.classList.contains("console")) return;
    var format = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      timeZoneName: "short"
    });
    root.querySelectorAll("time[datetime]:not([data-keep])").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        el.textContent = format.format(when);
        el.title = el.getAttribute("datetime");
      }
    });
  }

  function systemInfo(root) {
    var ua = navigator.userAgent || "";
    var os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
      : /Mac OS X/.test(ua) ? "macOS" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : "";
    var match = ua.match(/(Edg|OPR|Firefox|Chrome|Chromium|Version)\/(\d+)/);
    var browser = "";
    if (match) {
      var names = { Edg: "Edge", OPR: "Opera", Version: /Safari/.test(ua) ? "Safari" : "Browser" };
      browser = (names[match[1]] || match[1]) + " " + match[2];
    }
    root.querySelectorAll("input[name=os]").forEach(function (el) { if (!el.value) el.value = os; });
    root.querySelectorAll("input[name=browser]").forEach(function (el) { if (!el.value) el.value = browser; });
    root.querySelectorAll("input[name=tz_offset]").forEach(function (el) {
      el.value = String(new Date().getTimezoneOffset());
    });
  }

  function criticalBanner(root) {
    root.querySelectorAll("[data-critical-banner]").forEach(function (banner) {
      var form = banner.closest("form");
      if (!form) return;
      function update() {
        var chosen = form.querySelector("input[name=severity]:checked");
        banner.hidden = !(chosen && chosen.value === "critical");
      }
      form.addEventListener("change", update);
      update();
    });
  }

  function dropzones(root) {
    root.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      var input = zone.querySelector("input[type=file]");
      var list = zone.querySelector(".picked");
      if (!input || typeof DataTransfer === "undefined") return;
      var held = new DataTransfer();

      function show() {
        list.innerHTML = "";
        Array.prototype.forEach.call(input.files, function (file) {
          var item = document.createElement("li");
          item.textContent = file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
          list.appendChild(item);
        });
      }
      function add(files) {
        Array.prototype.forEach.call(files, function (file, i) {
          var named = file.name && file.name !== "image.png" ? file
            : new File([file], "pasted-" + Date.now() + "-" + i + ".png", { type: file.type || "image/png" });
          held.items.add(named);
        });
        input.files = held.files;
        show();
      }
      input.addEventListener("change", function () {
        held = new DataTransfer();
        Array.prototype.forEach.call(input.files, function (f) { held.items.add(f); });
        show();
      });
      zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        zone.classList.remove("over");
        if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
      });
      var form = zone.closest("form");
      (form || document).addEventListener("paste", function (e) {
        var files = [];
        var items = (e.clipboardData && e.clipboardData.items) || [];
        Array.prototype.forEach.call(items, function (item) {
          if (item.kind === "file") { var f = item.getAsFile(); if (f) files.push(f); }
        });
        if (files.length) { e.preventDefault(); add(files); }
      });
    });
  }

  function enhance(root) {
    localTimes(root);
    systemInfo(root);
    criticalBanner(root);
    dropzones(root);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (e) { localTimes(e.target); });
})();
