// What the Partner Center and the merchant's partner view share: building DOM from text (never
// HTML), money in the partner's currency, dates, and tables.
window.rtui = (function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function status(text, bad) { var s = $("status"); s.textContent = text; s.className = bad ? "error" : "hint"; }
  // Display only: integer minor units divided for Intl, which knows each currency's decimals.
  function money(minor, currency) {
    var c = currency || "USD";
    try {
      var f = new Intl.NumberFormat("en-US", { style: "currency", currency: c });
      return f.format(minor / Math.pow(10, f.resolvedOptions().maximumFractionDigits));
    } catch (e) { return minor + " " + c + " (minor units)"; }
  }
  function day(ms) { return new Date(ms).toISOString().slice(0, 10); }
  // A table of text cells; the first `text` columns (default 1) align left, rows may carry keys.
  function table(id, head, rows, opts) {
    opts = opts || {};
    var left = opts.text || 1, t = $(id), tr = el("tr");
    t.textContent = "";
    head.forEach(function (h, i) { tr.appendChild(el("th", h, i < left ? "text" : "")); });
    t.appendChild(tr);
    rows.forEach(function (row, n) {
      var r = el("tr");
      if (opts.keys) r.setAttribute(opts.keyName || "data-key", opts.keys[n]);
      row.forEach(function (cell, i) { r.appendChild(el("td", cell, i < left ? "text" : "")); });
      t.appendChild(r);
    });
    if (!rows.length) {
      var empty = el("tr"), td = el("td", opts.empty || "Nothing yet in this period.", "hint");
      td.colSpan = head.length;
      empty.appendChild(td);
      t.appendChild(empty);
    }
  }
  return { $: $, el: el, status: status, money: money, day: day, table: table };
})();
