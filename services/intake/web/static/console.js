// The console's enhancements; every page works without them. Keyboard shortcuts (listed on `?`), moving and
// selecting rows in the queue, pausing the queue's refresh while tickets are selected, and keeping the
// workbench's forms at the timeline position the page shows.
(function () {
  "use strict";

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function shortcutsDialog() { return document.getElementById("shortcuts"); }

  function openShortcuts() {
    var dialog = shortcutsDialog();
    if (dialog && !dialog.open) dialog.showModal();
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue tr[data-row]")); }

  function currentRow() { return document.querySelector("#queue tr.is-current"); }

  function moveRow(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    all.forEach(function (row) { row.classList.remove("is-current"); });
    next.classList.add("is-current");
    var link = next.querySelector("a[data-open]");
    if (link) link.focus();
  }

  function activate(key) {
    var target = document.querySelector('[data-shortcut="' + key + '"]');
    if (!target) return false;
    var details = target.closest("details");
    if (details) details.open = true;
    if (target.tagName === "BUTTON" || target.tagName === "A") {
      target.click();
    } else if (target.type === "radio") {
      target.checked = true;
      var form = target.closest("form");
      var text = form && form.querySelector("textarea");
      (text || target).focus();
    } else {
      target.focus();
    }
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var dialog = shortcutsDialog();
    if (dialog && dialog.open) return;
    var key = e.key;
    var handled = true;
    if (key === "?") openShortcuts();
    else if (key === "j") moveRow(1);
    else if (key === "k") moveRow(-1);
    else if (key === "x" && currentRow()) {
      var box = currentRow().querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
    } else if ((key === "o" || key === "Enter") && currentRow() && !e.target.matches("a, button")) {
      var open = currentRow().querySelector("a[data-open]");
      if (open) open.click();
    } else if (key === "/") {
      var search = document.querySelector("input[type=search]");
      if (search) search.focus(); else handled = false;
    } else handled = activate(key);
    if (handled) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-open-shortcuts]")) openShortcuts();
  });

  // the queue does not refresh under a selection in progress (the agent would lose it)
  document.addEventListener("htmx:beforeRequest", function (e) {
    var source = e.detail && e.detail.elt;
    if (source && source.id === "queue" && source.querySelector("input[name=ticket]:checked")) e.preventDefault();
  });

  // the workbench shows changes as they come; its forms then act on what it shows
  document.addEventListener("htmx:afterSettle", function (e) {
    var live = document.getElementById("workbench-live");
    if (!live || !live.dataset.seen) return;
    document.querySelectorAll("input[data-seen-input]").forEach(function (input) { input.value = live.dataset.seen; });
  });
})();
