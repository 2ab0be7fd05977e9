// The merchant's partner view: every partner's figures, balances and fraud signals, the CSV
// export, and payout runs. Everything comes from the admin API with the admin key, kept in
// sessionStorage for this tab only.
(function () {
  "use strict";
  var API = "../v1/";
  var DAY = 86400000;
  var key = "";

  var $ = rtui.$, el = rtui.el, status = rtui.status, money = rtui.money, day = rtui.day;
  function request(method, path, body) {
    var init = { method: method, headers: { Authorization: "Bearer " + key } };
    if (body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(API + path, init).then(function (r) {
      if (r.ok) return r;
      return r.json().then(function (b) { var e = new Error(b.message || r.statusText); e.status = r.status; throw e; });
    });
  }
  function range() {
    return "from=" + $("from").value + "&to=" + $("to").value;
  }
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
  function table(id, head, rows, keys, textColumns) {
    rtui.table(id, head, rows, { keys: keys, keyName: "data-partner", text: textColumns, empty: "Nothing to show." });
  }

  function refresh() {
    return request("GET", "admin/report?" + range()).then(function (r) { return r.json(); }).then(function (report) {
      var rows = report.partners.map(function (p) {
        var b = p.balances[0] || { currency: "USD", pending_minor: 0, approved_minor: 0, paid_minor: 0, balance_minor: 0 };
        var flags = Object.keys(p.fraud).filter(function (k) { return p.fraud[k]; }).map(function (k) { return k + " " + p.fraud[k]; }).join(", ");
        return [p.partner, p.name, p.parent || "", p.hits, p.opt_ins, p.orders, money(p.revenue_minor, b.currency), money(p.commission_minor, b.currency),
          money(p.clawback_minor, b.currency), money(b.pending_minor, b.currency), money(b.approved_minor, b.currency), money(b.paid_minor, b.currency),
          money(b.balance_minor, b.currency), flags || "—"];
      });
      table("partners", ["Partner", "Name", "Parent", "Hits", "Opt-ins", "Orders", "Revenue", "Commission", "Clawed back", "Pending", "Approved", "Paid", "Balance", "Fraud signals"],
        rows, report.partners.map(function (p) { return p.partner; }), 3);
      var box = $("fraud");
      box.textContent = "";
      Object.keys(report.fraud).forEach(function (k) {
        var f = el("div", null, "figure");
        f.id = "fraud-" + k;
        f.appendChild(el("div", k.replace(/_/g, " "), "label"));
        f.appendChild(el("div", report.fraud[k], "value"));
        box.appendChild(f);
      });
      status("Updated " + new Date().toLocaleTimeString());
    }).catch(fail);
  }

  function minMinor() {
    var m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec($("min").value.trim());
    if (!m) throw new Error("the minimum balance must be an amount such as 50 or 50.00");
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }
  function showPayouts(lines, paid) {
    table("payouts", ["Partner", "Name", "Email", "Amount", "Entries", "Payout"], lines.map(function (l) {
      return [l.partner, l.name, l.email, money(l.amount_minor, l.currency), l.entries, l.payout_id ? "#" + l.payout_id : paid ? "" : "not paid yet"];
    }), lines.map(function (l) { return l.partner; }), 3);
  }
  function preview() {
    try {
      return request("GET", "admin/payouts/preview?min_balance=" + minMinor()).then(function (r) { return r.json(); })
        .then(function (b) { showPayouts(b.payouts, false); status(b.payouts.length + " payout(s) due."); }).catch(fail);
    } catch (e) { status(e.message, true); }
  }
  function pay() {
    var min;
    try { min = minMinor(); } catch (e) { status(e.message, true); return; }
    return request("POST", "admin/payouts?format=csv", { min_balance_minor: min })
      .then(function (r) { return download(r, "payouts-" + day(Date.now()) + ".csv"); })
      .then(function () { status("Payouts booked; the CSV is downloading."); return Promise.all([refresh(), preview()]); })
      .catch(fail);
  }
  function fail(e) {
    if (e.status === 401 || e.status === 403) { signOut("That key is not an admin key."); return; }
    status("Could not load: " + e.message, true);
  }
  function signOut(message) {
    sessionStorage.removeItem("rt_admin_key");
    key = "";
    $("admin").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    status(message || "Signed out.");
  }
  function start() {
    $("login").hidden = true;
    $("admin").hidden = false;
    $("signout").hidden = false;
    refresh();
  }

  var fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    sessionStorage.setItem("rt_admin_key", fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  key = sessionStorage.getItem("rt_admin_key") || "";
  $("to").value = day(Date.now());
  $("from").value = day(Date.now() - 29 * DAY);
  $("apply").addEventListener("click", refresh);
  $("preview").addEventListener("click", preview);
  $("pay").addEventListener("click", pay);
  $("csv").addEventListener("click", function () {
    request("GET", "admin/report?format=csv&" + range()).then(function (r) { return download(r, "partners-" + day(Date.now()) + ".csv"); }).catch(fail);
  });
  $("signout").addEventListener("click", function () { signOut(); });
  $("key-go").addEventListener("click", function () { key = $("key-input").value.trim(); sessionStorage.setItem("rt_admin_key", key); start(); });
  if (key) start(); else $("login").hidden = false;
})();
