// The Partner Center: a partner signs in with their personal link (#token=…) or token and sees
// their ledger, link stats with a chart, products sold, commission structure and links.
// Everything comes from the partner API with the token; nothing is stored but the token, in
// sessionStorage, for this tab only.
(function () {
  "use strict";
  var API = "../v1/";
  var DAY = 86400000;
  var state = { token: "", partner: "", currency: "USD", profile: null };

  var $ = rtui.$, el = rtui.el, status = rtui.status, day = rtui.day;
  function money(minor, currency) { return rtui.money(minor, currency || state.currency); }
  function pct(bps) { return (bps / 100).toLocaleString("en-US", { maximumFractionDigits: 2 }) + " %"; }
  function rate(part, whole) { return whole ? (100 * part / whole).toFixed(1) + " %" : "—"; }

  function api(path, asText) {
    return fetch(API + path, { headers: { Authorization: "Bearer " + state.token } }).then(function (r) {
      if (asText && r.ok) return r.text();
      return r.json().then(function (body) {
        if (!r.ok) { var e = new Error(body.message || r.statusText); e.status = r.status; throw e; }
        return body;
      });
    });
  }

  // A change (POST, DELETE) with a JSON body; refusals carry the server's message.
  function send(method, path, body) {
    var init = { method: method, headers: { Authorization: "Bearer " + state.token } };
    if (body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(API + path, init).then(function (r) {
      if (r.status === 204) return null;
      return r.json().then(function (b) {
        if (!r.ok) { var e = new Error(b.message || r.statusText); e.status = r.status; throw e; }
        return b;
      });
    });
  }

  function postbacksPath() { return "partners/" + encodeURIComponent(state.partner) + "/postbacks"; }

  function loadPostbacks() {
    return api(postbacksPath()).then(function (b) {
      var t = $("postbacks");
      rtui.table("postbacks", ["URL", "Method", "Events", "State", ""], b.postbacks.map(function (p) {
        return [p.url, p.method, p.events.join(", "), p.state === "disabled" ? "disabled: " + (p.disabled_reason || "") : p.state, ""];
      }), { text: 4, empty: "No postbacks yet.", keys: b.postbacks.map(function (p) { return p.id; }), keyName: "data-postback" });
      // Each row's last cell gets its delete button (built as DOM, never HTML).
      Array.prototype.forEach.call(t.querySelectorAll("tr[data-postback]"), function (row) {
        var id = row.getAttribute("data-postback"), del = el("button", "Delete", "btn secondary");
        del.type = "button";
        del.addEventListener("click", function () {
          send("DELETE", postbacksPath() + "/" + encodeURIComponent(id)).then(loadPostbacks, function (e) { status("Could not delete: " + e.message, true); });
        });
        row.lastChild.appendChild(del);
      });
    }).catch(function (e) { status("Could not load your postbacks: " + e.message, true); });
  }

  function figures(container, items) {
    container.textContent = "";
    items.forEach(function (f) {
      var box = el("div", null, "figure" + (f.negative ? " negative" : ""));
      if (f.id) box.id = f.id;
      box.appendChild(el("div", f.label, "label"));
      box.appendChild(el("div", f.value, "value"));
      container.appendChild(box);
    });
  }

  function table(id, head, rows, textColumns) { rtui.table(id, head, rows, { text: textColumns }); }

  function renderLedger(ledger) {
    var balances = ledger.balances.length ? ledger.balances : [{ currency: state.currency, earned_minor: 0, pending_minor: 0, approved_minor: 0, paid_minor: 0, clawed_back_minor: 0, balance_minor: 0 }];
    state.currency = balances[0].currency;
    var b = balances[0];
    var items = [
      ["earned", "Earned", b.earned_minor], ["pending", "Pending", b.pending_minor], ["approved", "Approved", b.approved_minor],
      ["paid", "Paid", b.paid_minor], ["clawed_back", "Clawed back", b.clawed_back_minor]
    ];
    // Corrections by the merchant show only when there are some.
    if (b.reversed_minor) items.push(["reversed", "Voided or moved", b.reversed_minor]);
    if (b.adjusted_minor) items.push(["adjusted", "Adjustments", b.adjusted_minor]);
    items.push(["balance", "Balance", b.balance_minor]);
    items = items.map(function (x) { return { id: "bal-" + x[0], label: x[1], value: money(x[2], b.currency), negative: x[2] < 0 }; });
    figures($("ledger"), items);
    var others = balances.slice(1).map(function (o) { return o.currency + " balance " + money(o.balance_minor, o.currency); });
    $("ledger-note").textContent = (others.length ? others.join(" · ") + ". " : "") +
      "Commissions stay pending until the refund window after each order has passed; approved commissions are paid in the next payout run. A refund after a payout is deducted from what you earn next.";
    var now = Date.now();
    var shown = ledger.entries.slice(0, 50);
    rtui.table("entries", ["Date", "Order", "Why", "Amount", "State"], shown.map(function (e) {
      var st = e.kind === "payout" ? "payout #" + e.payout_id : e.payout_id ? "paid" : e.available_at_ms > now ? "pending until " + day(e.available_at_ms) : "approved";
      return [day(e.at_ms), e.kind === "payout" || e.kind === "adjustment" ? "—" : e.order_id, entryWhy(e), money(e.amount_minor, e.currency), st];
    }), { text: 3, keys: shown.map(function (e) { return e.id; }), keyName: "data-entry", empty: "No ledger entries yet." });
  }

  // What an entry is, in the partner's words, with the merchant's reason when there is one.
  function entryWhy(e) {
    var because = e.reason ? ": " + e.reason : "";
    switch (e.kind) {
      case "earned": return (e.role === "owner" ? "product owner's share" : e.role + " commission") + (e.reason ? " (credited by hand" + because + ")" : "");
      case "clawback": return "refund clawback" + (e.reason ? " (order credited by hand" + because + ")" : "");
      case "void": return "commission voided" + because;
      case "move": return "order moved to another partner" + because;
      case "approval": return (e.amount_minor > 0 ? "approved early" : "taken out of pending (approved early)") + because;
      case "adjustment": return (e.amount_minor > 0 ? "bonus" : "correction") + because;
      case "payout": return "payout";
      default: return e.kind;
    }
  }

  function breakdown(rows, key) {
    return rows.map(function (r) {
      return [r[key] == null ? (key === "link" ? "(no link: tier, lead or named)" : "(none)") : r[key], r.hits, r.opt_ins, r.orders, rate(r.opt_ins, r.hits), rate(r.orders, r.hits), money(r.revenue_minor), money(r.commission_minor)];
    });
  }

  function renderStats(s) {
    figures($("figures"), [
      { id: "fig-hits", label: "Hits", value: s.hits },
      { id: "fig-opt_ins", label: "Opt-ins", value: s.opt_ins },
      { id: "fig-orders", label: "Orders", value: s.orders },
      { id: "fig-optin_rate", label: "Opt-in rate", value: rate(s.opt_ins, s.hits) },
      { id: "fig-order_rate", label: "Order rate", value: rate(s.orders, s.hits) },
      { id: "fig-unverified_conversions", label: "Awaiting order", value: s.unverified_conversions },
      { id: "fig-revenue_minor", label: "Revenue", value: money(s.revenue_minor) },
      { id: "fig-commission_minor", label: "Commission", value: money(s.commission_minor) },
      { id: "fig-clawback_minor", label: "Clawed back", value: money(s.clawback_minor) }
    ]);
    var head = ["", "Hits", "Opt-ins", "Orders", "Opt-in rate", "Order rate", "Revenue", "Commission"];
    table("by-link", ["Link"].concat(head.slice(1)), breakdown(s.by_link, "link"));
    table("by-sub", ["SubID"].concat(head.slice(1)), breakdown(s.by_sub_id, "sub_id"));
    var sources = s.opt_ins_by_source || [];
    figures($("sources"), sources.map(function (x) { return { id: "src-" + x.source, label: x.source, value: x.opt_ins }; }));
    if (!sources.length) $("sources").appendChild(el("p", "No opt-in in this period yet.", "hint"));
    table("products", ["Product", "Quantity", "Revenue"], s.products.map(function (p) {
      var name = p.sku ? (p.name ? p.name + " (" + p.sku + ")" : p.sku) : "Orders without line items";
      return [name, p.quantity, money(p.revenue_minor, p.currency)];
    }));
  }

  function renderChart(svgText) {
    var doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    var svg = doc.documentElement;
    var box = $("chart");
    box.textContent = "";
    if (svg && svg.nodeName === "svg") box.appendChild(document.importNode(svg, true));
  }

  function terms(p) {
    var lines = [];
    lines.push(p.flat_minor != null ? "Sale commission: " + money(p.flat_minor) + " per order" : "Sale commission: " + pct(p.rate_bps) + " of each order");
    p.products.forEach(function (o) {
      var pays = o.flat_minor != null ? money(o.flat_minor) + " per unit" : o.rate_bps != null ? pct(o.rate_bps) : "the program's rate";
      lines.push("· " + o.sku + ": " + pays + (o.owner ? " — you own it: you earn " + pct(o.owner_bps) + " of every sale of it, whoever referred the buyer" : ""));
    });
    if (p.lead_rate_bps != null) lines.push("Lead commission: " + pct(p.lead_rate_bps) + " when a contact you brought buys through another partner");
    if (p.lead_flat_minor != null) lines.push("Lead commission: " + money(p.lead_flat_minor) + " when a contact you brought buys through another partner");
    if (p.tier2_bps) lines.push("Tier 2: " + pct(p.tier2_bps) + " of sales by partners you referred");
    if (p.tier3_bps) lines.push("Tier 3: " + pct(p.tier3_bps) + " of sales by their referrals");
    var r = p.recurring;
    lines.push("Renewals: " + (r === "every" ? "every renewal earns" : r === "none" ? "only the first payment earns" : "the first " + r.split(":")[1] + " renewals earn"));
    lines.push("Cookie window: " + p.window_days + " days · refund window: " + p.hold_days + " days");
    return lines;
  }

  function renderProfile(profile) {
    state.profile = profile;
    $("who").textContent = profile.name + " (" + profile.partner + ")";
    var box = $("programs");
    box.textContent = "";
    if (!profile.programs.length) box.appendChild(el("p", "You are not in a commission program yet.", "hint"));
    profile.programs.forEach(function (p) {
      var section = el("div");
      section.className = "program";
      section.appendChild(el("h3", p.name + " (" + p.code + ")"));
      terms(p).forEach(function (line) { section.appendChild(el("div", line)); });
      box.appendChild(section);
    });
    var t = $("links");
    t.textContent = "";
    var head = el("tr");
    ["Link", "SubID", "Your URL", ""].forEach(function (h) { head.appendChild(el("th", h, "text")); });
    t.appendChild(head);
    profile.links.forEach(function (l) {
      var tr = el("tr");
      tr.setAttribute("data-link", l.code);
      var name = el("td");
      name.appendChild(el("div", l.name));
      name.appendChild(el("div", "→ " + l.destination, "hint"));
      var sub = document.createElement("input");
      sub.className = "sub";
      sub.placeholder = "optional";
      sub.maxLength = 64;
      var url = document.createElement("input");
      url.className = "url";
      url.readOnly = true;
      url.value = l.url;
      var copy = el("button", "Copy", "btn secondary");
      sub.addEventListener("input", function () {
        var v = sub.value.trim();
        var ok = /^[A-Za-z0-9_-]{0,64}$/.test(v);
        sub.style.borderColor = ok ? "" : "#b42318";
        url.value = ok && v ? l.url + (l.url.indexOf("?") >= 0 ? "&" : "?") + "sid=" + encodeURIComponent(v) : l.url;
      });
      copy.addEventListener("click", function () {
        var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy"; }, 1500); };
        url.select();
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(url.value).then(done, function () { if (document.execCommand("copy")) done(); });
        } else if (document.execCommand("copy")) { done(); }
      });
      [name, sub, url, copy].forEach(function (c, i) {
        var td = i === 0 ? c : el("td");
        if (i > 0) td.appendChild(c);
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    if (!profile.links.length) { var tr = el("tr"); tr.appendChild(el("td", "No links yet: ask the merchant for one.", "hint")); t.appendChild(tr); }
  }

  function range() {
    var q = [];
    if ($("from").value) q.push("from=" + $("from").value);
    if ($("to").value) q.push("to=" + $("to").value);
    return q.length ? "?" + q.join("&") : "";
  }

  function renderResources(list) {
    var box = $("resources");
    box.textContent = "";
    $("resources-card").hidden = !list.length;
    list.forEach(function (r) {
      var card = el("div", null, "resource");
      card.setAttribute("data-resource", r.id);
      card.appendChild(el("strong", r.title));
      if (r.kind === "banner" && r.image_src) { var img = document.createElement("img"); img.src = r.image_src; img.alt = r.title; card.appendChild(img); }
      if (r.kind === "text") card.appendChild(el("p", r.text));
      [["html", "HTML", r.html]].concat(r.kind === "text" ? [["text", "Text", r.text]] : []).forEach(function (x) {
        var id = "res-" + r.id + "-" + x[0], label = el("label", x[1]), area = document.createElement("textarea");
        label.htmlFor = id; area.id = id; area.className = x[0]; area.readOnly = true; area.rows = 3; area.value = x[2];
        var copy = el("button", "Copy " + x[1], "btn secondary");
        copy.type = "button";
        copy.addEventListener("click", function () {
          var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy " + x[1]; }, 1500); };
          area.select();
          if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(area.value).then(done, function () { if (document.execCommand("copy")) done(); });
          else if (document.execCommand("copy")) done();
        });
        card.appendChild(label); card.appendChild(area); card.appendChild(copy);
      });
      box.appendChild(card);
    });
  }

  function refresh() {
    var base = "partners/" + encodeURIComponent(state.partner) + "/";
    return Promise.all([api(base + "ledger"), api(base + "stats" + range()), api(base + "chart.svg" + range(), true)])
      .then(function (got) {
        renderLedger(got[0]);
        renderStats(got[1]);
        renderChart(got[2]);
        status("Updated " + new Date().toLocaleTimeString() + " · refreshes every 5 s");
      })
      .catch(fail);
  }

  function fail(e) {
    if (e.status === 401) { signOut("That token is not valid (any more). Ask the merchant for a new link."); return; }
    status("Could not load your figures: " + e.message, true);
  }

  function signOut(message) {
    sessionStorage.removeItem("rt_partner_token");
    state.token = "";
    $("center").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    $("who").textContent = "";
    status(message || "Signed out.");
  }

  function start() {
    api("me").then(function (me) {
      var asked = new URLSearchParams(location.search).get("partner");
      state.partner = me.kind === "partner" ? me.partner : asked;
      if (!state.partner) throw new Error("an admin key needs ?partner=CODE in the address");
      $("login").hidden = true;
      $("center").hidden = false;
      $("signout").hidden = false;
      return api("partners/" + encodeURIComponent(state.partner) + "/profile").then(function (profile) {
        renderProfile(profile);
        // Resources change rarely: loaded once, so a selection in their fields is never lost.
        api("partners/" + encodeURIComponent(state.partner) + "/resources").then(function (b) { renderResources(b.resources); }).catch(function () {});
        loadPostbacks();
        return refresh();
      });
    }).catch(fail);
  }

  function tokenFromHash() {
    var fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
    if (!fromHash) return false;
    sessionStorage.setItem("rt_partner_token", fromHash);
    // The token must not linger in the address bar, history or a shared screenshot.
    history.replaceState(null, "", location.pathname + location.search);
    return true;
  }
  // A personal link opened in a tab that already shows the center changes only the fragment.
  window.addEventListener("hashchange", function () {
    if (tokenFromHash()) { state.token = sessionStorage.getItem("rt_partner_token"); state.partner = ""; start(); }
  });
  tokenFromHash();
  state.token = sessionStorage.getItem("rt_partner_token") || "";
  var today = Date.now();
  $("to").value = day(today);
  $("from").value = day(today - 29 * DAY);
  $("apply").addEventListener("click", function () { refresh(); });
  $("signout").addEventListener("click", function () { signOut(); });
  $("token-go").addEventListener("click", function () {
    state.token = $("token-input").value.trim();
    sessionStorage.setItem("rt_partner_token", state.token);
    start();
  });
  $("postback-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var events = Array.prototype.filter.call($("postback-events").querySelectorAll("input"), function (i) { return i.checked; })
      .map(function (i) { return i.value; });
    send("POST", postbacksPath(), { url: $("postback-url").value.trim(), method: $("postback-method").value, events: events })
      .then(function () { $("postback-url").value = ""; status("Postback added."); return loadPostbacks(); })
      .catch(function (e) { status("Postback not added: " + e.message, true); });
  });
  if (state.token) start(); else { $("login").hidden = false; }
  setInterval(function () { if (state.token && state.partner && !$("center").hidden) refresh(); }, 5000);
})();
