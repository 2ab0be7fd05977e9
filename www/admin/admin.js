// The merchant's partner program: sign-in, sections, and what they share (the admin API, forms
// with an error next to each field, money and percentages), then the Partners, Payouts and
// Notices sections. Every change is one admin API call; every figure is the API's. The admin key
// is kept in sessionStorage for this tab only.
(function () {
  "use strict";
  var API = "../v1/";
  var DAY = 86400000;
  var $ = rtui.$, el = rtui.el, status = rtui.status, day = rtui.day;
  var rta = window.rta = { key: "", partners: [], programs: [], links: [], report: null, loaders: {}, tab: "partners" };

  // ---- The admin API -------------------------------------------------------------------------
  function ApiError(status, body) {
    this.status = status;
    this.code = body.error || "error";
    this.message = body.message || ("the server answered " + status);
    this.field = body.field || null;
  }
  rta.api = function (method, path, body, raw) {
    var init = { method: method, headers: { Authorization: "Bearer " + rta.key } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(API + path, init).then(function (r) {
      if (r.ok) return raw ? r : r.json();
      return r.json().catch(function () { return {}; }).then(function (b) {
        var e = new ApiError(r.status, b);
        if (r.status === 401 || r.status === 403) signOut("That key is not an admin key (any more). Sign in again.");
        throw e;
      });
    });
  };
  rta.get = function (path) { return rta.api("GET", path); };
  rta.send = function (method, path, body) { return rta.api(method, path, body); };
  rta.fail = function (e) { if (e && e.status !== 401 && e.status !== 403) status((e && e.message) || String(e), true); };

  // ---- Forms: an error next to its field, or under the form -----------------------------------
  function FieldError(field, message) { this.field = field; this.message = message; }
  rta.FieldError = FieldError;
  rta.form = function (form) {
    function inputs(field) {
      return Array.prototype.filter.call(form.querySelectorAll("[data-field], [data-field-alt]"), function (i) {
        return i.getAttribute("data-field") === field || i.getAttribute("data-field-alt") === field;
      });
    }
    function slot(target) {
      var id = (target.id || form.id + "-" + target.getAttribute("data-field")) + "-error";
      var p = document.getElementById(id);
      if (!p) {
        p = el("p", "", "field-error");
        p.id = id;
        p.setAttribute("role", "alert");
        var box = target.closest(".field") || target.parentNode;
        box.appendChild(p);
      }
      return p;
    }
    var api = {
      clear: function () {
        Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (p) { p.remove(); });
        Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (i) { i.removeAttribute("aria-invalid"); i.removeAttribute("aria-describedby"); });
        var top = form.querySelector(".form-error");
        if (top) { top.hidden = true; top.textContent = ""; }
      },
      show: function (e) {
        var found = e.field ? inputs(e.field).filter(function (i) { return !i.disabled || i.tagName === "FIELDSET"; }) : [];
        if (!found.length && e.field) found = inputs(e.field);
        var message = String(e.message || e).replace(new RegExp("^" + (e.field || "\u0000") + ": "), "");
        if (found.length) {
          var target = found[0];
          var p = slot(target);
          p.textContent = message;
          if (target.tagName !== "FIELDSET") {
            target.setAttribute("aria-invalid", "true");
            target.setAttribute("aria-describedby", p.id);
            target.focus();
          }
        } else {
          var top = form.querySelector(".form-error");
          if (top) { top.textContent = message; top.hidden = false; } else { status(message, true); }
        }
      },
      // Runs `work` (which may throw a FieldError or return a Promise) and shows its refusal.
      run: function (work) {
        api.clear();
        try {
          return Promise.resolve(work()).catch(function (e) { if (e.status !== 401 && e.status !== 403) api.show(e); throw e; });
        } catch (e) {
          api.show(e);
          return Promise.reject(e);
        }
      }
    };
    return api;
  };

  // ---- Money and percentages, typed as people write them ---------------------------------------
  rta.decimals = function (currency) {
    try { return new Intl.NumberFormat("en-US", { style: "currency", currency: currency }).resolvedOptions().maximumFractionDigits; } catch (e) { return 2; }
  };
  // "50", "50.00", "-12.5" → minor units of `currency`.
  rta.minor = function (text, currency, field, signed) {
    var d = rta.decimals(currency || "USD");
    var m = new RegExp("^(" + (signed ? "-?" : "") + ")(\\d{1,12})(?:\\.(\\d{1," + Math.max(d, 1) + "}))?$").exec(String(text).trim().replace(/,/g, ""));
    if (!m || (d === 0 && m[3])) throw new FieldError(field, d ? "an amount such as 25 or 25." + "0".repeat(d) : "a whole amount such as 2500");
    var minor = parseInt(m[2], 10) * Math.pow(10, d) + (d ? parseInt(((m[3] || "") + "000000").slice(0, d), 10) : 0);
    return m[1] ? -minor : minor;
  };
  rta.major = function (minor, currency) {
    var d = rta.decimals(currency || "USD");
    var sign = minor < 0 ? "-" : "";
    var a = Math.abs(minor), unit = Math.pow(10, d);
    return sign + Math.floor(a / unit) + (d ? "." + String(a % unit).padStart(d, "0") : "");
  };
  // "30", "12.5" (percent) → basis points.
  rta.bps = function (text, field) {
    var m = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(String(text).trim().replace(/\s*%$/, ""));
    if (!m) throw new FieldError(field, "a percentage such as 30 or 12.5");
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  };
  rta.pct = function (bps) { return (bps / 100).toLocaleString("en-US", { maximumFractionDigits: 2 }) + " %"; };
  rta.whole = function (text, field) {
    if (!/^\d{1,6}$/.test(String(text).trim())) throw new FieldError(field, "a whole number");
    return parseInt(text, 10);
  };
  rta.money = function (minor, currency) { return rtui.money(minor, currency); };
  rta.date = function (ms) { return ms ? day(ms) : "—"; };

  // ---- Shared lists: partners, programs, links --------------------------------------------------
  rta.range = function () { return "from=" + $("from").value + "&to=" + $("to").value; };
  rta.reload = function () {
    return Promise.all([rta.get("admin/partners"), rta.get("admin/programs"), rta.get("admin/links?" + rta.range())]).then(function (got) {
      rta.partners = got[0]; rta.programs = got[1]; rta.links = got[2];
      Array.prototype.forEach.call(document.querySelectorAll("select[data-partners]"), function (s) { rta.partnerSelect(s); });
    });
  };
  rta.partnerSelect = function (select, chosen) {
    var keep = chosen !== undefined ? chosen : select.value;
    select.textContent = "";
    var none = select.getAttribute("data-partners");
    if (none) select.appendChild(new Option(none, ""));
    rta.partners.forEach(function (p) { select.appendChild(new Option(p.name + " (" + p.code + ")" + (p.active ? "" : " — deactivated"), p.code)); });
    select.value = keep || "";
  };
  rta.programChecks = function (box, prefix, chosen) {
    box.textContent = "";
    if (!rta.programs.length) box.appendChild(el("span", "No programs yet: add one on the Programs page.", "hint"));
    rta.programs.forEach(function (p) {
      var wrap = el("div", null, "check"), input = document.createElement("input");
      input.type = "checkbox"; input.id = prefix + "-" + p.code; input.value = p.code;
      input.checked = (chosen || []).indexOf(p.code) >= 0;
      var label = el("label", p.name + " (" + p.code + ")");
      label.htmlFor = input.id;
      wrap.appendChild(input); wrap.appendChild(label); box.appendChild(wrap);
    });
  };
  rta.checked = function (box) {
    return Array.prototype.filter.call(box.querySelectorAll("input[type=checkbox]"), function (i) { return i.checked; }).map(function (i) { return i.value; });
  };
  rta.button = function (text, cls, onClick) {
    var b = el("button", text, "btn " + (cls || ""));
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  };
  rta.copy = function (input, button) {
    var done = function () { var t = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = t; }, 1500); };
    input.select();
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(input.value).then(done, function () { if (document.execCommand("copy")) done(); });
    else if (document.execCommand("copy")) done();
  };
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-copy]");
    if (b) rta.copy($(b.getAttribute("data-copy")), b);
  });
  // A table whose last cell may hold elements (buttons); the rest is text.
  rta.table = function (id, head, rows, opts) {
    opts = opts || {};
    var t = $(id), tr = el("tr"), left = opts.text || 1;
    t.textContent = "";
    head.forEach(function (h, i) { var th = el("th", h, i < left ? "text" : ""); th.scope = "col"; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach(function (row, n) {
      var r = el("tr");
      if (opts.keys) r.setAttribute(opts.keyName || "data-key", opts.keys[n]);
      row.forEach(function (cell, i) {
        var td = el("td", null, i < left ? "text" : "");
        if (cell instanceof Node) td.appendChild(cell); else if (cell != null) td.textContent = String(cell);
        r.appendChild(td);
      });
      t.appendChild(r);
    });
    if (!rows.length) { var empty = el("tr"), td = el("td", opts.empty || "Nothing yet.", "hint"); td.colSpan = head.length; empty.appendChild(td); t.appendChild(empty); }
  };
  var STATES = { pending: "pending", approved: "approved", paid: "paid", voided: "voided", closed: "refunded or moved" };
  rta.stateTag = function (state) { return el("span", STATES[state] || state, "state " + state); };

  // ---- Sections -----------------------------------------------------------------------------
  rta.show = function (tab) {
    rta.tab = tab;
    sessionStorage.setItem("rt_admin_tab", tab);
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
      if (b.getAttribute("data-tab") === tab) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
    });
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (t) { t.hidden = t.id !== "tab-" + tab; });
    var load = rta.loaders[tab];
    return Promise.resolve(load ? load() : null).catch(rta.fail);
  };
  $("tabs").addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-tab]");
    if (b) { rta.show(b.getAttribute("data-tab")); $("main").focus({ preventScroll: true }); }
  });

  // ---- Partners -----------------------------------------------------------------------------
  function figures(box, items) {
    box.textContent = "";
    items.forEach(function (f) {
      var d = el("div", null, "figure" + (f.negative ? " negative" : ""));
      if (f.id) d.id = f.id;
      d.appendChild(el("div", f.label, "label"));
      d.appendChild(el("div", f.value, "value"));
      box.appendChild(d);
    });
  }
  rta.figures = figures;

  function refreshReport() {
    return rta.get("admin/report?" + rta.range()).then(function (report) {
      rta.report = report;
      var rows = report.partners.map(function (p) {
        var b = p.balances[0] || { currency: "USD", pending_minor: 0, approved_minor: 0, paid_minor: 0, balance_minor: 0 };
        var flags = Object.keys(p.fraud).filter(function (k) { return p.fraud[k]; }).map(function (k) { return k + " " + p.fraud[k]; }).join(", ");
        var manage = rta.button("Manage", "secondary small", function () { openPartner(p.partner); });
        manage.setAttribute("aria-label", "Manage " + p.partner);
        return [p.partner, p.name + (p.active ? "" : " (deactivated)"), p.parent || "", p.hits, p.opt_ins, p.orders, rta.money(p.revenue_minor, b.currency),
          rta.money(p.commission_minor, b.currency), rta.money(p.clawback_minor, b.currency), rta.money(b.pending_minor, b.currency),
          rta.money(b.approved_minor, b.currency), rta.money(b.paid_minor, b.currency), rta.money(b.balance_minor, b.currency), flags || "—", manage];
      });
      rta.table("partners", ["Partner", "Name", "Parent", "Hits", "Opt-ins", "Orders", "Revenue", "Commission", "Clawed back", "Pending", "Approved", "Paid", "Balance", "Fraud signals", ""],
        rows, { keys: report.partners.map(function (p) { return p.partner; }), keyName: "data-partner", text: 3, empty: "No partners yet: add one below, or approve an application." });
      var box = $("fraud");
      box.textContent = "";
      Object.keys(report.fraud).forEach(function (k) {
        var f = el("div", null, "figure");
        f.id = "fraud-" + k;
        f.appendChild(el("div", k.replace(/_/g, " "), "label"));
        f.appendChild(el("div", report.fraud[k], "value"));
        box.appendChild(f);
      });
      var sources = report.opt_ins_by_source || [];
      figures($("sources"), sources.map(function (s) { return { id: "source-" + s.source, label: s.source, value: s.opt_ins }; }));
      if (!sources.length) $("sources").appendChild(el("p", "No opt-in in this period.", "hint"));
      status("Updated " + new Date().toLocaleTimeString());
    });
  }

  var partnerEdit = rta.form($("partner-edit")), adjustForm = rta.form($("adjust-form")), addForm = rta.form($("partner-add"));
  var current = null;
  function openPartner(code) {
    var p = rta.partners.filter(function (x) { return x.code === code; })[0];
    if (!p) return;
    current = code;
    $("partner-panel").hidden = false;
    $("partner-title").textContent = p.name + " (" + p.code + ")";
    $("pe-name").value = p.name; $("pe-email").value = p.email; $("pe-active").checked = p.active;
    rta.partnerSelect($("pe-parent"), p.parent || "");
    rta.programChecks($("pe-programs"), "pe-program", p.programs);
    $("personal-link").hidden = true;
    partnerEdit.clear(); adjustForm.clear();
    Array.prototype.forEach.call(document.querySelectorAll("#partners tr"), function (r) { r.classList.toggle("selected", r.getAttribute("data-partner") === code); });
    $("partner-panel").scrollIntoView({ block: "start" });
    $("pe-name").focus({ preventScroll: true });
    return Promise.all([loadTokens(), loadLedger()]).catch(rta.fail);
  }
  rta.openPartner = openPartner;
  function loadTokens() {
    return rta.get("admin/partners/" + encodeURIComponent(current) + "/tokens").then(function (b) {
      rta.table("tokens", ["Personal link", "Made", ""], b.tokens.map(function (t) {
        var revoke = rta.button("Revoke", "secondary small", function () {
          revoke.disabled = true;
          rta.send("DELETE", "admin/keys/" + t.id).then(function () { status("Link #" + t.id + " revoked: it stops working at once."); return loadTokens(); }).catch(rta.fail);
        });
        revoke.setAttribute("aria-label", "Revoke personal link #" + t.id);
        return ["#" + t.id, day(t.created_at_ms), revoke];
      }), { keys: b.tokens.map(function (t) { return t.id; }), keyName: "data-token", empty: "No personal link works now." });
    });
  }
  function loadLedger() {
    return rta.get("partners/" + encodeURIComponent(current) + "/ledger").then(function (l) {
      var b = l.balances[0] || { currency: "USD", earned_minor: 0, pending_minor: 0, approved_minor: 0, paid_minor: 0, clawed_back_minor: 0, reversed_minor: 0, adjusted_minor: 0, balance_minor: 0 };
      figures($("partner-balance"), [["earned", "Earned"], ["clawed_back", "Clawed back"], ["reversed", "Voided or moved"], ["adjusted", "Adjusted"], ["paid", "Paid"], ["pending", "Pending"], ["approved", "Approved"], ["balance", "Balance"]].map(function (x) {
        var v = b[x[0] + "_minor"] || 0;
        return { id: "pb-" + x[0], label: x[1], value: rta.money(v, b.currency), negative: v < 0 };
      }));
      var now = Date.now();
      rta.table("partner-entries", ["Date", "Order", "Entry", "Reason", "Amount", "State"], l.entries.slice(0, 100).map(function (e) {
        return [day(e.at_ms), e.kind === "payout" || e.kind === "adjustment" ? "—" : e.order_id, e.kind === "earned" ? e.role + " commission" : e.kind, e.reason || "",
          rta.money(e.amount_minor, e.currency), e.payout_id ? (e.kind === "payout" ? "payout #" + e.payout_id : "paid") : e.available_at_ms > now ? "pending until " + day(e.available_at_ms) : "approved"];
      }), { text: 4, keys: l.entries.slice(0, 100).map(function (e) { return e.id; }), keyName: "data-entry", empty: "No ledger entries yet." });
    });
  }
  $("partner-close").addEventListener("click", function () { $("partner-panel").hidden = true; current = null; });
  $("partner-edit").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var code = current;
    partnerEdit.run(function () {
      return rta.send("PATCH", "admin/partners/" + encodeURIComponent(code), {
        name: $("pe-name").value, email: $("pe-email").value, parent: $("pe-parent").value || null,
        programs: rta.checked($("pe-programs")), active: $("pe-active").checked
      });
    }).then(function (p) {
      status("Saved " + p.code + (p.active ? "." : ": deactivated, their links stop crediting."));
      return rta.reload().then(refreshReport).then(function () { return openPartner(code); });
    }).catch(function () {});
  });
  $("make-link").addEventListener("click", function () {
    rta.send("POST", "admin/partners/" + encodeURIComponent(current) + "/tokens").then(function (made) {
      $("personal-url").value = made.url;
      $("personal-link").hidden = false;
      $("personal-url").focus();
      $("personal-url").select();
      status("Personal link #" + made.id + " made. Copy it now: it is shown once.");
      return loadTokens();
    }).catch(rta.fail);
  });
  $("adjust-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var currency = $("adj-currency").value.trim().toUpperCase();
    adjustForm.run(function () {
      var amount = rta.minor($("adj-amount").value, currency, "amount_minor", true);
      return rta.send("POST", "admin/partners/" + encodeURIComponent(current) + "/adjustments", { amount_minor: amount, currency: currency, reason: $("adj-reason").value });
    }).then(function (e) {
      status("Adjustment of " + rta.money(e.amount_minor, e.currency) + " booked for " + e.partner + ".");
      $("adj-amount").value = ""; $("adj-reason").value = "";
      return Promise.all([loadLedger(), refreshReport()]);
    }).catch(function () {});
  });
  $("partner-add").addEventListener("submit", function (ev) {
    ev.preventDefault();
    addForm.run(function () {
      return rta.send("POST", "admin/partners", { code: $("pa-code").value.trim(), name: $("pa-name").value, email: $("pa-email").value, parent: $("pa-parent").value || null, programs: rta.checked($("pa-programs")) });
    }).then(function (p) {
      status("Partner " + p.code + " added. Open Manage to make their personal link.");
      $("partner-add").reset();
      return rta.reload().then(refreshReport).then(function () { rta.programChecks($("pa-programs"), "pa-program", []); });
    }).catch(function () {});
  });

  // Applications from the sign-up page.
  function loadApplications() {
    return Promise.all([rta.get("admin/settings"), rta.get("admin/partner-applications?status=pending")]).then(function (got) {
      $("apps-open").checked = got[0].applications_open;
      var box = $("applications");
      box.textContent = "";
      if (!got[1].applications.length) box.appendChild(el("p", "No application is waiting.", "hint"));
      got[1].applications.forEach(function (a) {
        var card = el("form", null, "application");
        card.id = "application-" + a.id;
        card.setAttribute("data-application", a.id);
        card.noValidate = true;
        card.appendChild(el("strong", (a.name || a.email) + (a.name ? " <" + a.email + ">" : "")));
        card.appendChild(el("div", [a.website, a.notes].filter(Boolean).join("\n") || "No website or notes.", "meta"));
        card.appendChild(el("div", "Applied " + day(a.created_at_ms), "meta"));
        var code = document.createElement("input"), codeField = el("div", null, "field"), codeLabel = el("label", "Partner code");
        code.id = "app-code-" + a.id; code.setAttribute("data-field", "code"); codeLabel.htmlFor = code.id;
        code.value = (a.name || a.email.split("@")[0]).toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
        codeField.appendChild(codeLabel); codeField.appendChild(code); card.appendChild(codeField);
        var progs = el("fieldset", null, "field"), checks = el("div", null, "checks");
        progs.setAttribute("data-field", "programs");
        progs.appendChild(el("legend", "Programs"));
        progs.appendChild(checks); card.appendChild(progs);
        rta.programChecks(checks, "app-" + a.id + "-program", rta.programs.length === 1 ? [rta.programs[0].code] : []);
        var top = el("p", null, "form-error"); top.hidden = true; top.setAttribute("role", "alert"); card.appendChild(top);
        var result = el("div", null, "copy-row"); result.hidden = true; card.appendChild(result);
        var f = rta.form(card);
        var approve = el("button", "Approve", "btn"); approve.type = "submit";
        var decline = rta.button("Decline", "secondary", function () {
          f.run(function () { return rta.send("POST", "admin/partner-applications/" + a.id + "/decline", { reason: "" }); })
            .then(function () { status("Application from " + a.email + " declined."); return loadApplications(); }).catch(function () {});
        });
        var buttons = el("div", null, "row"); buttons.appendChild(approve); buttons.appendChild(decline); card.appendChild(buttons);
        card.addEventListener("submit", function (ev) {
          ev.preventDefault();
          f.run(function () { return rta.send("POST", "admin/partner-applications/" + a.id + "/approve", { code: code.value.trim(), programs: rta.checked(checks) }); })
            .then(function (done) {
              // Hand over the personal link: it is shown once.
              card.textContent = "";
              card.appendChild(el("strong", done.partner.name + " (" + done.partner.code + ") is a partner now."));
              var label = el("label", "Their personal Partner Center link (send it to " + done.partner.email + ")");
              var url = document.createElement("input"); url.className = "url grow"; url.readOnly = true; url.value = done.url; url.id = "approved-url-" + a.id;
              label.htmlFor = url.id;
              var row = el("div", null, "row"), copy = rta.button("Copy", "secondary", function () { rta.copy(url, copy); });
              row.appendChild(url); row.appendChild(copy);
              card.appendChild(label); card.appendChild(row);
              status("Application approved: copy " + done.partner.code + "'s personal link.");
              return rta.reload().then(refreshReport);
            }).catch(function () {});
        });
        box.appendChild(card);
      });
    });
  }
  $("apps-open").addEventListener("change", function () {
    var open = $("apps-open").checked;
    rta.send("PATCH", "admin/settings", { applications_open: open }).then(function (s) {
      status(s.applications_open ? "The sign-up page takes applications." : "The sign-up page is closed.");
    }).catch(function (e) { $("apps-open").checked = !open; rta.fail(e); });
  });

  rta.loaders.partners = function () {
    return rta.reload().then(function () {
      rta.programChecks($("pa-programs"), "pa-program", rta.checked($("pa-programs")));
      return Promise.all([refreshReport(), loadApplications()]);
    });
  };
  $("range-form").addEventListener("submit", function (ev) { ev.preventDefault(); refreshReport().catch(rta.fail); });
  function download(response, name) {
    return response.blob().then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    });
  }
  rta.download = download;
  $("csv").addEventListener("click", function () {
    rta.api("GET", "admin/report?format=csv&" + rta.range(), undefined, true).then(function (r) { return download(r, "partners-" + day(Date.now()) + ".csv"); }).catch(rta.fail);
  });

  // ---- Payouts -------------------------------------------------------------------------------
  var payoutForm = rta.form($("payout-form"));
  function minMinor() { return rta.minor($("min").value, "USD", "min_balance_minor"); }
  function showPayouts(lines) {
    rta.table("payouts", ["Partner", "Name", "Email", "Amount", "Entries", "Payout"], lines.map(function (l) {
      return [l.partner, l.name, l.email, rta.money(l.amount_minor, l.currency), l.entries, l.payout_id ? "#" + l.payout_id : "not paid yet"];
    }), { keys: lines.map(function (l) { return l.partner; }), keyName: "data-partner", text: 3, empty: "Nobody is due a payout at this minimum." });
  }
  function loadRuns() {
    return rta.get("admin/payouts").then(function (h) {
      rta.table("runs", ["Run", "Paid", "Partners", ""], h.runs.map(function (run) {
        var csv = rta.button("Download CSV", "secondary small", function () {
          rta.api("GET", "admin/payouts/" + run.run_id + "?format=csv", undefined, true).then(function (r) { return download(r, "payouts-" + run.run_id + ".csv"); }).catch(rta.fail);
        });
        csv.setAttribute("aria-label", "Download the CSV of the run of " + new Date(run.run_id).toLocaleString());
        return [new Date(run.run_id).toISOString().replace("T", " ").slice(0, 19) + " UTC", run.totals.map(function (t) { return rta.money(t[1], t[0]); }).join(", "),
          run.lines.map(function (l) { return l.partner; }).join(", "), csv];
      }), { keys: h.runs.map(function (r) { return r.run_id; }), keyName: "data-run", text: 3, empty: "No payout run yet." });
    });
  }
  $("preview").addEventListener("click", function () {
    payoutForm.run(function () { return rta.get("admin/payouts/preview?min_balance=" + minMinor()); })
      .then(function (b) { showPayouts(b.payouts); status(b.payouts.length + " payout(s) due."); }).catch(function () {});
  });
  $("payout-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    payoutForm.run(function () { return rta.api("POST", "admin/payouts", { min_balance_minor: minMinor() }); })
      .then(function (b) {
        showPayouts(b.payouts);
        status(b.payouts.length + " payout(s) booked. The run's CSV is in Payout runs below.");
        return Promise.all([loadRuns(), refreshReport()]);
      }).catch(function () {});
  });
  rta.loaders.payouts = function () { return Promise.all([loadRuns(), rta.get("admin/payouts/preview?min_balance=" + (function () { try { return minMinor(); } catch (e) { return 0; } })()).then(function (b) { showPayouts(b.payouts); })]); };

  // ---- Notices -------------------------------------------------------------------------------
  function loadNotices() {
    return rta.get("admin/notices").then(function (b) {
      var badge = $("notice-count");
      badge.hidden = !b.notices.length;
      badge.textContent = b.notices.length;
      rta.table("notices", ["Received", "From", "What", "Order", "Amount", "Message"], b.notices.map(function (n) {
        return [new Date(n.received_at_ms).toISOString().slice(0, 16).replace("T", " "), n.source, n.kind.replace(/_/g, " "), n.order_id || "—",
          n.amount_minor != null ? rta.money(n.amount_minor, n.currency || "USD") : "—", n.message];
      }), { keys: b.notices.map(function (n) { return n.notice_id; }), keyName: "data-notice", text: 6, empty: "No notices: every money event was applied." });
    });
  }
  rta.loaders.notices = loadNotices;

  // ---- Sign-in -------------------------------------------------------------------------------
  function signOut(message) {
    sessionStorage.removeItem("rt_admin_key");
    rta.key = "";
    $("admin").hidden = true; $("tabs").hidden = true; $("signout").hidden = true;
    $("login").hidden = false;
    status(message === undefined ? "Signed out." : message, !!message);
    $("key-input").focus();
  }
  function start() {
    // One call tells whether the key is an admin key before anything is shown.
    return rta.get("me").then(function (me) {
      if (me.kind !== "admin") { signOut("That key is a partner's, not an admin key."); return; }
      $("login").hidden = true;
      $("admin").hidden = false; $("tabs").hidden = false; $("signout").hidden = false;
      $("who").textContent = "Merchant";
      loadNotices().catch(function () {});
      return rta.show(sessionStorage.getItem("rt_admin_tab") || "partners");
    }).catch(function (e) { if (e.status === 401 || e.status === 403) signOut("That key is not an admin key (any more). Sign in again."); else rta.fail(e); });
  }
  function keyFromHash() {
    var fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
    if (!fromHash) return false;
    sessionStorage.setItem("rt_admin_key", fromHash);
    // The key must not linger in the address bar, history or a shared screenshot.
    history.replaceState(null, "", location.pathname + location.search);
    return true;
  }
  keyFromHash();
  window.addEventListener("hashchange", function () { if (keyFromHash()) { rta.key = sessionStorage.getItem("rt_admin_key"); start(); } });
  rta.key = sessionStorage.getItem("rt_admin_key") || "";
  $("to").value = day(Date.now());
  $("from").value = day(Date.now() - 29 * DAY);
  $("signout").addEventListener("click", function () { signOut(); });
  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    rta.key = $("key-input").value.trim();
    sessionStorage.setItem("rt_admin_key", rta.key);
    $("key-input").value = "";
    start();
  });
  rta.refreshReport = refreshReport;
  // The other sections' scripts load after this one.
  setTimeout(function () { if (rta.key) start(); else signOut(""); }, 0);
})();
