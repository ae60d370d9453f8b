// Behaviour attached with data- attributes (strict CSP: no inline script, no hx-on, no eval).
(function () {
  function toggleTheme() {
    var dark = !document.documentElement.classList.contains("dark");
    document.documentElement.classList.toggle("dark", dark);
    try { localStorage.setItem("theme", dark ? "dark" : "light"); } catch (e) {}
  }
  function openJump() {
    var d = document.getElementById("jump-dialog");
    if (d && !d.open) { d.showModal(); document.getElementById("jump-input").focus(); }
  }
  // Header menus (<details data-menu>): one open at a time; a click elsewhere or Escape
  // closes them.
  document.addEventListener("click", function (e) {
    var inside = e.target.closest("details[data-menu]");
    document.querySelectorAll("details[data-menu][open]").forEach(function (d) {
      if (d !== inside) d.open = false;
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    document.querySelectorAll("details[data-menu][open]").forEach(function (d) {
      d.open = false;
      d.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-theme-toggle]")) toggleTheme();
    if (e.target.closest("[data-jump]")) openJump();
  });
  document.addEventListener("keydown", function (e) {
    var typing = /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName);
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); openJump(); return; }
    // Page shortcuts: an element with data-key="x" is focused (a link is followed) on "x".
    var target = document.querySelector('[data-key="' + e.key.replace(/["\\]/g, "") + '"]');
    if (!target) return;
    e.preventDefault();
    if (target.tagName === "A") { window.location = target.href; } else { target.focus(); }
  });
  // Destructive actions: a form with data-confirm="sentence" asks in a dialog first (Cancel is
  // the default button); confirming submits it as usual, htmx or not.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    var d = document.getElementById("confirm-dialog");
    if (!question || !d || form.dataset.confirmed === "yes") { if (form.dataset) delete form.dataset.confirmed; return; }
    var submitter = e.submitter;
    e.preventDefault();
    e.stopImmediatePropagation();
    document.getElementById("confirm-text").textContent = question;
    d.returnValue = "";
    d.addEventListener("close", function once() {
      d.removeEventListener("close", once);
      if (d.returnValue !== "ok") return;
      form.dataset.confirmed = "yes";
      form.requestSubmit(submitter || undefined);
    });
    d.showModal();
  }, true);
  // Inline edits (forms marked data-autosubmit) save on an explicit choice only: picking with
  // the mouse, or Enter. Arrow keys on a closed dropdown change its value (and fire "change")
  // while the person is only moving through it: that shows the form's Save button instead.
  var keyed = null;
  document.addEventListener("keydown", function (e) {
    var form = e.target.form;
    if (!form || !form.hasAttribute("data-autosubmit")) return;
    if (e.key === "Enter" && e.target.tagName === "SELECT") { e.preventDefault(); form.requestSubmit(); return; }
    keyed = /^(Arrow|Page|Home|End)/.test(e.key) || e.key.length === 1 ? e.target : null;
  }, true);
  document.addEventListener("change", function (e) {
    var form = e.target.form;
    if (!form || !form.hasAttribute("data-autosubmit")) return;
    if (keyed === e.target) {
      form.querySelectorAll("[data-autosubmit-hide]").forEach(function (b) { b.classList.remove("sr-only"); });
      return;
    }
    form.requestSubmit();
  });
  document.addEventListener("pointerdown", function () { keyed = null; }, true);
  document.querySelectorAll("[data-autosubmit-hide]").forEach(function (b) { b.classList.add("sr-only"); });
  document.addEventListener("change", function (e) {
    if (e.target.id !== "jump-input") return;
    var opts = document.querySelectorAll("#jump-targets option");
    for (var i = 0; i < opts.length; i++) {
      if (opts[i].value.toLowerCase() === e.target.value.toLowerCase()) { window.location = opts[i].dataset.href; }
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var msg = e.detail.xhr && e.detail.xhr.getResponseHeader("X-Toast");
    if (!msg) return;
    var t = document.createElement("div");
    t.className = "rounded bg-slate-900 px-3 py-2 text-sm text-white shadow";
    t.textContent = msg;
    document.getElementById("toasts").appendChild(t);
    setTimeout(function () { t.remove(); }, 4000);
  });
  // Live refresh (data-live-refresh="<notice id>"): a signal re-fetches the region, unless the
  // user is in the middle of something there (ticked rows, a focused field) — then the notice
  // offers the refresh instead of wiping their work.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail.elt;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-live-refresh")) return;
    var active = document.activeElement;
    var busy = el.querySelector("input[type=checkbox]:checked") ||
      (el.contains(active) && /INPUT|TEXTAREA|SELECT/.test(active.tagName));
    var notice = document.getElementById(el.getAttribute("data-live-refresh"));
    if (notice) notice.hidden = !busy;
    if (busy) e.preventDefault();
  });
  // The live stream must not outlive the page: closed when the page is hidden (navigating
  // away, or into the back/forward cache), and a page restored from that cache reloads, which
  // opens a fresh one. Otherwise each cached page keeps a connection until the browser's six
  // per host are used up and everything stalls.
  window.addEventListener("pagehide", function () {
    if (window.htmx && document.body.hasAttribute("sse-connect")) {
      htmx.trigger(document.body, "htmx:beforeCleanupElement");
    }
  });
  window.addEventListener("pageshow", function (e) { if (e.persisted) window.location.reload(); });
  // Relative times (the `when` macro) stay true while a page is open, by the rules of
  // domain::wording::relative; past a week the server's date in the viewer's zone stays.
  function relativeWords(at, now) {
    var secs = Math.round((at - now) / 1000), s = Math.abs(secs), span;
    if (s < 45) return "just now";
    if (s < 3600) span = Math.floor((s + 30) / 60) + " min";
    else if (s < 86400) {
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      span = h + " h" + (m ? " " + m + " min" : "");
    } else if (s < 7 * 86400) {
      var d = Math.floor(s / 86400);
      span = d === 1 ? "1 day" : d + " days";
    } else return null;
    return secs > 0 ? "in " + span : span + " ago";
  }
  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var words = relativeWords(Date.parse(t.getAttribute("datetime")), now);
      if (words && t.textContent !== words) t.textContent = words;
    });
  }
  setInterval(refreshTimes, 30000);
  if (window.htmx) {
    // 422 (validation) and 409 (conflict) responses carry re-rendered forms: swap them.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "409", swap: true },
      { code: "[45]..", swap: false, error: true }
    ];
  }
})();
