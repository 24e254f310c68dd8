// The Help button for host platforms: one tag on any page,
//   <script src="https://support.example.com/static/widget.js" data-user-token="JWT" defer></script>
// adds a Help button whose menu opens Report Issue, Bug Report, Feature Request or My Tickets in a
// panel over the page (an iframe of the portal; data-mode="window" opens a window instead, for hosts
// on another site, where browsers keep the portal's cookies out of frames). With data-user-token (an
// HS256 token the host signs for its signed-in user) the person is signed in at once; without it the
// portal asks for their e-mail and sends a sign-in link. No other host is contacted.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__incidentsHelp) return;
  window.__incidentsHelp = true;
  var portal = new URL(script.src, location.href).origin;
  var token = script.getAttribute("data-user-token") || "";
  var mode = script.getAttribute("data-mode") === "window" ? "window" : "frame";
  var label = script.getAttribute("data-label") || "Help";
  var items = [
    ["Report Issue", "/report"], ["Bug Report", "/report/bug"],
    ["Feature Request", "/feature-requests"], ["My Tickets", "/tickets"]
  ];
  var frameName = "incidents-help-frame";
  var tokenUsed = false;

  function el(tag, props, style) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") node.textContent = props[k]; else node.setAttribute(k, props[k]);
    });
    Object.keys(style || {}).forEach(function (k) { node.style[k] = style[k]; });
    return node;
  }

  var font = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  var button = el("button", { type: "button", "aria-haspopup": "true", "aria-expanded": "false", id: "incidents-help-button",
    text: label }, { position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000", padding: "12px 20px",
    borderRadius: "999px", border: "0", background: "#1f4fd1", color: "#fff", font: "600 16px " + font,
    boxShadow: "0 4px 14px rgba(0,0,0,.25)", cursor: "pointer" });
  var menu = el("ul", { id: "incidents-help-menu", role: "menu", "aria-label": "Help", hidden: "" }, {
    position: "fixed", right: "20px", bottom: "76px", zIndex: "2147483000", listStyle: "none", margin: "0",
    padding: "6px", background: "#fff", border: "1px solid #d5dbe3", borderRadius: "12px", minWidth: "210px",
    boxShadow: "0 8px 24px rgba(0,0,0,.18)", font: "16px " + font });
  items.forEach(function (item) {
    var li = el("li", { role: "none" });
    var a = el("a", { role: "menuitem", href: portal + item[1], "data-path": item[1], text: item[0] }, {
      display: "block", padding: "10px 12px", color: "#1b2430", textDecoration: "none", borderRadius: "8px" });
    a.addEventListener("click", function (e) { e.preventDefault(); open(item[1], item[0]); });
    li.appendChild(a);
    menu.appendChild(li);
  });

  var panel = el("div", { id: "incidents-help-panel", role: "dialog", "aria-modal": "false", "aria-label": "Support",
    hidden: "" }, { position: "fixed", right: "20px", bottom: "76px", zIndex: "2147483001", width: "min(480px, calc(100vw - 40px))",
    height: "min(720px, calc(100vh - 100px))", background: "#fff", border: "1px solid #d5dbe3", borderRadius: "12px",
    boxShadow: "0 12px 32px rgba(0,0,0,.25)", overflow: "hidden", display: "none", flexDirection: "column" });
  var bar = el("div", {}, { display: "flex", alignItems: "center", justifyContent: "space-between", padding: "8px 12px",
    borderBottom: "1px solid #d5dbe3", font: "600 15px " + font, color: "#1b2430" });
  var title = el("span", { text: "Support" });
  var close = el("button", { type: "button", "aria-label": "Close support panel", text: "×" }, { border: "0",
    background: "transparent", font: "24px " + font, cursor: "pointer", color: "#1b2430", lineHeight: "1" });
  bar.appendChild(title);
  bar.appendChild(close);
  var frame = el("iframe", { name: frameName, title: "Support portal", src: "about:blank" }, { border: "0",
    flex: "1", width: "100%" });
  panel.appendChild(bar);
  panel.appendChild(frame);

  function showPanel(show) {  // display, not only `hidden`: the inline flex layout would override the attribute
    panel.hidden = !show;
    panel.style.display = show ? "flex" : "none";
  }

  function toggleMenu(show) {
    menu.hidden = !show;
    button.setAttribute("aria-expanded", show ? "true" : "false");
    if (show) { var first = menu.querySelector("a"); if (first) first.focus(); }
  }

  function signInWithToken(path, target) {
    var form = el("form", { method: "post", action: portal + "/embed/sign-in", target: target }, { display: "none" });
    form.appendChild(el("input", { type: "hidden", name: "token", value: token }));
    form.appendChild(el("input", { type: "hidden", name: "next", value: path }));
    document.body.appendChild(form);
    form.submit();
    form.remove();
    tokenUsed = true;
  }

  function open(path, name) {
    toggleMenu(false);
    if (mode === "window") {
      var win = window.open("about:blank", "incidents-help-window");
      if (token && !tokenUsed) signInWithToken(path, "incidents-help-window");
      else if (win) win.location.href = portal + "/embed?next=" + encodeURIComponent(path);
      return;
    }
    title.textContent = name;
    showPanel(true);
    if (token && !tokenUsed) signInWithToken(path, frameName);
    else frame.src = portal + "/embed?next=" + encodeURIComponent(path);
    frame.focus();
  }

  button.addEventListener("click", function () {
    if (!panel.hidden) showPanel(false);
    toggleMenu(menu.hidden);
  });
  close.addEventListener("click", function () { showPanel(false); button.focus(); });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    if (!menu.hidden) { toggleMenu(false); button.focus(); }
    else if (!panel.hidden) { showPanel(false); button.focus(); }
  });

  function mount() {
    document.body.appendChild(menu);
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
