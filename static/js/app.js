// Behaviour attached with data- attributes (strict CSP: no inline script, no hx-on, no eval).
(function () {
  function toggleTheme() {
    var dark = !document.documentElement.classList.contains("dark");
    document.documentElement.classList.toggle("dark", dark);
    try { localStorage.setItem("theme", dark ? "dark" : "light"); } catch (e) {}
  }
  // The command palette (search::palette): `/` or Ctrl/⌘-K. Options come from the server as
  // the person types; the arrow keys move, Enter runs the chosen one (a link, or a form posted
  // with the page's CSRF token), Escape closes.
  var paletteSeq = 0;
  function paletteOptions() {
    return Array.prototype.slice.call(document.querySelectorAll("#palette-results [role=option]"));
  }
  function paletteSelect(option) {
    var input = document.getElementById("palette-input");
    paletteOptions().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (option) { input.setAttribute("aria-activedescendant", option.id); option.scrollIntoView({ block: "nearest" }); }
    else input.removeAttribute("aria-activedescendant");
  }
  function paletteLoad() {
    var input = document.getElementById("palette-input");
    var issue = document.querySelector("[data-palette-issue]");
    var url = "/palette?q=" + encodeURIComponent(input.value) +
      (issue ? "&issue=" + encodeURIComponent(issue.getAttribute("data-palette-issue")) : "");
    var seq = ++paletteSeq;
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (seq !== paletteSeq) return;
        document.getElementById("palette-results").innerHTML = html;
        paletteSelect(paletteOptions()[0] || null);
      });
  }
  function paletteRun(option) {
    if (!option) return false;
    var post = option.getAttribute("data-post");
    if (post && /^\/[A-Za-z0-9\/_-]*$/.test(post)) {
      var f = document.createElement("form");
      f.method = "post"; f.action = post;
      var fields = [["_csrf", document.querySelector('meta[name="csrf-token"]').content]]
        .concat(JSON.parse(option.getAttribute("data-fields") || "[]"));
      fields.forEach(function (kv) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
        f.appendChild(i);
      });
      document.body.appendChild(f);
      f.submit();
      return true;
    }
    var href = option.getAttribute("data-href");
    if (href && href.charAt(0) === "/" && href.charAt(1) !== "/") {
      var here = window.location.pathname + window.location.search;
      window.location = href;
      // Same page, another anchor (the resolve form): no load happens, so close the palette.
      if (href.split("#")[0] === here) document.getElementById("palette").close();
      return true;
    }
    return false;
  }
  function openPalette() {
    var d = document.getElementById("palette");
    if (!d || d.open) return;
    d.showModal();
    var input = document.getElementById("palette-input");
    input.value = "";
    input.focus();
    paletteLoad();
  }
  document.addEventListener("input", function (e) {
    if (e.target.id === "palette-input") paletteLoad();
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.id !== "palette-input") return;
    var opts = paletteOptions(), i = opts.indexOf(document.querySelector("#palette-results [aria-selected=true]"));
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!opts.length) return;
      var n = e.key === "ArrowDown" ? (i + 1) % opts.length : (i <= 0 ? opts.length - 1 : i - 1);
      paletteSelect(opts[n]);
    } else if (e.key === "Enter") {
      if (paletteRun(opts[i])) e.preventDefault();
    }
  });
  document.addEventListener("click", function (e) {
    var o = e.target.closest && e.target.closest("#palette-results [role=option]");
    if (o) { paletteSelect(o); paletteRun(o); return; }
    var d = document.getElementById("palette");
    if (d && e.target === d) d.close();
  });
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
    if (e.target.closest("[data-palette]")) openPalette();
  });
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") { e.preventDefault(); openPalette(); return; }
    var typing = /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName);
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); openPalette(); return; }
    if (triageKey(e)) { e.preventDefault(); return; }
    // Page shortcuts: an element with data-key="x" is focused (a link is followed) on "x".
    var target = document.querySelector('[data-key="' + e.key.replace(/["\\]/g, "") + '"]');
    if (!target) return;
    e.preventDefault();
    if (target.tagName === "A") { window.location = target.href; } else { target.focus(); }
  });
  // The triage queue (table[data-triage]): rows are read-only; j/k move between them (focus
  // on the row's number, so Enter opens it), x ticks, e opens the row's edit form, Esc closes it.
  function triageRows() {
    return Array.prototype.slice.call(document.querySelectorAll("table[data-triage] tr[data-issue]"));
  }
  function currentRow() {
    var a = document.activeElement;
    return a && a.closest ? a.closest("table[data-triage] tr[data-issue]") : null;
  }
  function openEdit(row, open) {
    var button = row.querySelector("[data-row-edit]");
    var edit = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!edit) return;
    edit.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) edit.querySelector("select, button").focus(); else button.focus();
  }
  function triageKey(e) {
    var rows = triageRows();
    if (!rows.length || !/^[jkxe]$/.test(e.key)) return false;
    var row = currentRow(), i = rows.indexOf(row);
    if (e.key === "j" || e.key === "k") {
      var next = rows[e.key === "j" ? Math.min(i + 1, rows.length - 1) : Math.max(i - 1, 0)];
      if (i < 0) next = rows[0];
      next.querySelector("[data-row-open]").focus();
      next.scrollIntoView({ block: "nearest" });
      return true;
    }
    if (!row) return false;
    if (e.key === "x") { var c = row.querySelector("input[type=checkbox]"); if (c) c.click(); return true; }
    openEdit(row, true);
    return true;
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-row-edit]");
    if (b) { openEdit(b.closest("tr"), b.getAttribute("aria-expanded") !== "true"); return; }
    var c = e.target.closest("[data-row-cancel]");
    if (c) {
      var edit = c.closest("tr[data-edit-row]");
      c.closest("form").reset();
      var row = edit.previousElementSibling;
      if (row) openEdit(row, false);
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var edit = e.target.closest && e.target.closest("tr[data-edit-row]");
    if (!edit) return;
    edit.querySelector("form").reset();
    openEdit(edit.previousElementSibling, false);
  });
  // Destructive actions: a form (or the button that submits it) with data-confirm="sentence"
  // asks in a dialog first (Cancel is the default button); confirming submits it as usual,
  // htmx or not.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var by = e.submitter && e.submitter.getAttribute("data-confirm");
    var question = by || (form.getAttribute && form.getAttribute("data-confirm"));
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
  // Toasts: from an htmx answer's X-Toast header, or from the cookie a saved form's redirect
  // set (platform::toast). An undo is a form posted with the page's CSRF token, to this site only.
  function showToast(text, kind, undo) {
    var box = document.getElementById("toasts");
    if (!box || !text) return;
    var t = document.createElement("div");
    t.className = "pointer-events-auto flex items-center gap-3 rounded px-3 py-2 text-sm text-white shadow-lg " +
      (kind === "error" ? "bg-red-800" : "bg-slate-900 dark:bg-slate-700");
    if (kind === "error") t.setAttribute("role", "alert");
    var p = document.createElement("span");
    p.textContent = text;
    t.appendChild(p);
    if (undo && /^\/[A-Za-z0-9\/_-]*$/.test(undo.action || "")) {
      var f = document.createElement("form");
      f.method = "post";
      f.action = undo.action;
      var fields = [["_csrf", document.querySelector('meta[name="csrf-token"]').content]].concat(undo.fields || []);
      fields.forEach(function (kv) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
        f.appendChild(i);
      });
      var b = document.createElement("button");
      b.className = "rounded border border-white/60 px-2 py-0.5 font-semibold";
      b.textContent = "Undo";
      b.id = "toast-undo";
      f.appendChild(b);
      t.appendChild(f);
    }
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, undo || kind === "error" ? 12000 : 5000);
  }
  document.addEventListener("htmx:afterRequest", function (e) {
    var msg = e.detail.xhr && e.detail.xhr.getResponseHeader("X-Toast");
    if (msg) showToast(msg, "success");
  });
  (function cookieToast() {
    var m = document.cookie.match(/(?:^|; )fl_toast=([^;]*)/);
    if (!m) return;
    document.cookie = "fl_toast=; Path=/; Max-Age=0; SameSite=Strict";
    try {
      var t = JSON.parse(decodeURIComponent(m[1].replace(/\+/g, " ")));
      showToast(t.text, t.kind, t.undo);
    } catch (e) {}
  })();
  // Live refresh (data-live-refresh="<notice id>"): a signal re-fetches the region, unless the
  // user is in the middle of something there (ticked rows, a focused field) — then the notice
  // offers the refresh instead of wiping their work.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail.elt;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-live-refresh")) return;
    var active = document.activeElement;
    var busy = el.querySelector("input[type=checkbox]:checked, tr[data-edit-row]:not([hidden])") ||
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
  function relativeWords(at, now, phrase) {
    var secs = Math.round((at - now) / 1000), s = Math.abs(secs), span;
    if (s < 45) return phrase === "sla" ? "breaches now" : "just now";
    if (s < 3600) span = Math.floor((s + 30) / 60) + " min";
    else if (s < 86400) {
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      span = h + " h" + (m ? " " + m + " min" : "");
    } else if (s < 7 * 86400) {
      var d = Math.floor(s / 86400);
      span = d === 1 ? "1 day" : d + " days";
    } else return null;
    if (phrase === "sla") return secs > 0 ? "breaches in " + span : "breached " + span + " ago";
    return secs > 0 ? "in " + span : span + " ago";
  }
  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var words = relativeWords(Date.parse(t.getAttribute("datetime")), now, t.dataset.phrase);
      if (words && t.textContent !== words) t.textContent = words;
    });
  }
  setInterval(refreshTimes, 30000);
  // Disclosures folded only on a phone (`details[data-open-wide]`): open wherever the screen
  // has room for what they hold, including after an htmx swap.
  var wide = window.matchMedia("(min-width: 640px)");
  function openWide(root) {
    if (!wide.matches) return;
    (root || document).querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
  }
  openWide();
  wide.addEventListener("change", function () { openWide(); });
  document.addEventListener("htmx:load", function (e) { openWide(e.target); });
  // Category colours are data, not classes: paint their swatches (no inline styles under CSP).
  function paintSwatches(root) {
    (root || document).querySelectorAll("[data-swatch]").forEach(function (s) {
      var c = s.getAttribute("data-swatch");
      if (/^#[0-9a-fA-F]{6}$/.test(c)) s.style.backgroundColor = c;
    });
  }
  paintSwatches();
  document.addEventListener("htmx:load", function (e) { paintSwatches(e.target); });
  // The catalog form builder: drag a type from the palette onto the form, or a field to a new
  // place; each drop posts the same operation as the keyboard buttons and the server answers
  // with the builder re-rendered from the saved draft.
  function builder() {
    var b = document.getElementById("builder");
    if (!b || !window.Sortable || !window.htmx) return;
    var url = b.getAttribute("data-builder");
    var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content;
    function post(values) {
      values._csrf = csrf;
      htmx.ajax("POST", url, { target: "#builder", swap: "innerHTML", values: values, source: b });
    }
    b.querySelectorAll("[data-palette-list]").forEach(function (l) {
      if (l.dataset.sortable) return;
      l.dataset.sortable = "on";
      Sortable.create(l, { group: { name: "builder", pull: "clone", put: false }, sort: false,
        forceFallback: true, filter: "button", preventOnFilter: false });
    });
    b.querySelectorAll("[data-canvas]").forEach(function (l) {
      if (l.dataset.sortable) return;
      l.dataset.sortable = "on";
      var place = function (e) { return { section: l.getAttribute("data-section"), index: String(e.newIndex) }; };
      Sortable.create(l, { group: { name: "builder", pull: true, put: true }, forceFallback: true,
        filter: "button, a, select, input", preventOnFilter: false,
        onAdd: function (e) {
          var v = place(e), type = e.item.getAttribute("data-type");
          if (type) { e.item.remove(); v.op = "add"; v.type = type; }
          else { v.op = "move"; v.field = e.item.getAttribute("data-field"); }
          post(v);
        },
        onUpdate: function (e) {
          var v = place(e); v.op = "move"; v.field = e.item.getAttribute("data-field"); post(v);
        } });
    });
  }
  builder();
  document.addEventListener("htmx:load", function () { builder(); });
  // A form re-rendered while someone types (catalog conditions, live lists) must not take
  // back the characters typed since the request left.
  if (window.Idiomorph) Idiomorph.defaults.ignoreActiveValue = true;
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
