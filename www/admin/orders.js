// Orders (search, how each was credited or why not, crediting by hand or moving one) and
// commissions (void an unpaid one, approve a pending one early), each with a reason.
(function () {
  "use strict";
  var $ = rtui.$, el = rtui.el, status = rtui.status, day = rtui.day;

  var WHY_NOT = {
    no_touch: "no click, opt-in or partner named in the order was found",
    outside_window: "the partner's click or opt-in was outside its window",
    self_referral: "the buyer is the referring partner (a self-referral earns nobody)"
  };
  function creditText(o) {
    if (!o.partner) return "not credited: " + (o.reason ? o.reason.replace(/_/g, " ") : "—");
    return (o.credited_by || "credited") + " → " + o.partner;
  }
  function why(o, last) {
    var box = $("order-why");
    box.textContent = "";
    var strong = el("strong", o.partner ? "Credited to " + o.partner : "Not credited");
    box.appendChild(strong);
    var text;
    switch (o.credited_by) {
      case "click": text = " by a click on link " + (o.link || "?") + (o.sub_id ? " (SubID " + o.sub_id + ")" : "") + " inside its window."; break;
      case "lead": text = ": " + o.partner + " first brought the buyer's email (an opt-in or an earlier purchase), inside the window."; break;
      case "named": text = ": the order named " + o.partner + " (a coupon or your own API)."; break;
      case "subscription": text = ": a renewal of a subscription " + o.partner + " brought."; break;
      case "manual": text = " by hand" + (last ? ": " + last.reason : "") + "."; break;
      default: text = o.partner ? "." : ": " + (WHY_NOT[o.reason] || "no reason recorded") + ".";
    }
    box.appendChild(document.createTextNode(text));
    if (o.program) box.appendChild(document.createTextNode(" Program " + o.program + "."));
  }

  // ---- Commission actions, in the order view and the commissions list -----------------------------
  rta.commissionActions = function (c, done) {
    var box = el("div");
    function open(action, label) {
      box.textContent = "";
      var form = el("form", null, "inline-form"), id = "reason-" + action + "-" + c.entry_id;
      form.noValidate = true;
      var field = el("div", null, "field"), lab = el("label", "Reason (the partner sees it)"), input = document.createElement("input");
      input.id = id; input.setAttribute("data-field", "reason"); input.maxLength = 500; lab.htmlFor = id;
      field.appendChild(lab); field.appendChild(input);
      var top = el("p", null, "form-error"); top.hidden = true; top.setAttribute("role", "alert");
      var go = el("button", label, "btn small" + (action === "void" ? " danger" : "")); go.type = "submit";
      var cancel = rta.button("Cancel", "secondary small", function () { render(); });
      form.appendChild(field); form.appendChild(go); form.appendChild(cancel); form.appendChild(top);
      var f = rta.form(form);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        f.run(function () { return rta.send("POST", "admin/ledger/" + c.entry_id + "/" + action, { reason: input.value }); })
          .then(function (after) { status(action === "void" ? "Commission voided: " + rta.money(c.remaining_minor, c.currency) + " cancelled." : "Commission approved: payable in the next payout run."); done(after); })
          .catch(function () {});
      });
      box.appendChild(form);
      input.focus();
    }
    function render() {
      box.textContent = "";
      var unpaid = !c.paid && !c.voided && c.remaining_minor > 0;
      if (unpaid) {
        var v = rta.button("Void…", "secondary small", function () { open("void", "Void it"); });
        v.setAttribute("aria-label", "Void " + c.partner + "'s " + c.role + " commission on " + c.order_id);
        v.setAttribute("data-action", "void");
        box.appendChild(v);
      }
      if (unpaid && c.state === "pending") {
        var a = rta.button("Approve early…", "secondary small", function () { open("approve", "Approve now"); });
        a.setAttribute("aria-label", "Approve " + c.partner + "'s " + c.role + " commission on " + c.order_id + " now");
        a.setAttribute("data-action", "approve");
        box.appendChild(a);
      }
    }
    render();
    return box;
  };
  function stateCell(c) {
    var box = el("span");
    box.appendChild(rta.stateTag(c.state));
    if (c.state === "pending") box.appendChild(document.createTextNode(" until " + day(c.available_at_ms)));
    return box;
  }

  // ---- Orders --------------------------------------------------------------------------------
  var searchForm = rta.form($("order-search")), creditForm = rta.form($("credit-form"));
  var shown = null;
  function search() {
    var q = new URLSearchParams();
    if ($("os-q").value.trim()) q.set("q", $("os-q").value.trim());
    if ($("os-status").value) q.set("status", $("os-status").value);
    if ($("os-partner").value) q.set("partner", $("os-partner").value);
    var box = $("order-search-error");
    box.hidden = true;
    return rta.get("admin/orders?" + q).then(function (b) {
      rta.table("orders", ["Date", "Order", "Buyer", "Total", "Credit", "Commissions", "Refunded", ""], b.orders.map(function (o) {
        var open = rta.button("Open", "secondary small", function () { openOrder(o.order_id); });
        open.setAttribute("aria-label", "Open order " + o.order_id);
        return [day(o.occurred_at_ms), o.order_id, o.email || "—", rta.money(o.total_minor, o.currency), creditText(o),
          rta.money(o.commissions_minor, o.currency), rta.money(o.refunded_minor, o.currency), open];
      }), { keys: b.orders.map(function (o) { return o.order_id; }), keyName: "data-order", text: 3, empty: "No order matches." });
    }).catch(function (e) { box.textContent = e.message; box.hidden = false; });
  }
  function openOrder(id) {
    return rta.get("admin/orders/" + encodeURIComponent(id)).then(function (o) {
      shown = o;
      $("order-panel").hidden = false;
      $("order-title").textContent = "Order " + o.order_id;
      why(o, o.credits[o.credits.length - 1]);
      rta.figures($("order-figures"), [
        { id: "of-total", label: "Total", value: rta.money(o.total_minor, o.currency) },
        { id: "of-commissions", label: "Commissions held", value: rta.money(o.commissions_minor, o.currency) },
        { id: "of-refunded", label: "Refunded", value: rta.money(o.refunded_minor, o.currency) },
        { id: "of-date", label: "Date", value: day(o.occurred_at_ms) }
      ]);
      rta.table("order-items", ["Product", "Quantity", "Price"], o.items.map(function (i) {
        return [(i.name ? i.name + " " : "") + "(" + i.sku + ")", i.quantity, rta.money(i.unit_price_minor, o.currency)];
      }), { empty: "The order came without lines (its total only)." });
      rta.table("order-commissions", ["Partner", "Share", "Earned", "Clawed back", "Voided or moved", "Remaining", "State", ""], o.commissions.map(function (c) {
        return [c.partner, c.role, rta.money(c.earned_minor, c.currency), rta.money(c.clawed_back_minor, c.currency), rta.money(c.reversed_minor, c.currency),
          rta.money(c.remaining_minor, c.currency), stateCell(c), rta.commissionActions(c, function () { openOrder(o.order_id); })];
      }), { keys: o.commissions.map(function (c) { return c.entry_id; }), keyName: "data-entry", text: 2, empty: "Nobody earns on this order." });
      rta.table("order-refunds", ["Date", "Refund", "Kind", "Amount"], o.refunds.map(function (r) {
        return [day(r.occurred_at_ms), r.refund_id, r.kind, r.refunded_total_minor != null ? rta.money(r.refunded_total_minor, o.currency) + " refunded so far" : rta.money(r.amount_minor, o.currency)];
      }), { text: 3, empty: "No refund." });
      rta.table("order-credits", ["Date", "From", "To", "Reason"], o.credits.map(function (c) {
        return [day(c.at_ms), c.from_partner ? c.from_partner + (c.from_link ? " (link " + c.from_link + ")" : "") : "not credited", c.partner, c.reason];
      }), { text: 4, empty: "Credited as it arrived; never changed by hand." });
      $("credit-title").textContent = o.partner ? "Move to another partner" : "Credit to a partner";
      $("credit-submit").textContent = o.partner ? "Move the order" : "Credit the order";
      rta.partnerSelect($("cr-partner"), "");
      creditForm.clear();
      Array.prototype.forEach.call(document.querySelectorAll("#orders tr"), function (r) { r.classList.toggle("selected", r.getAttribute("data-order") === o.order_id); });
      $("order-panel").scrollIntoView({ block: "start" });
      $("order-title").setAttribute("tabindex", "-1");
      $("order-title").focus({ preventScroll: true });
    }).catch(rta.fail);
  }
  rta.openOrder = openOrder;
  $("order-search").addEventListener("submit", function (ev) { ev.preventDefault(); searchForm.clear(); search(); });
  $("order-close").addEventListener("click", function () { $("order-panel").hidden = true; shown = null; });
  $("credit-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var id = shown.order_id, moving = !!shown.partner;
    creditForm.run(function () {
      if (!$("cr-partner").value) throw new rta.FieldError("partner", "choose the partner to credit");
      return rta.send("POST", "admin/orders/" + encodeURIComponent(id) + "/credit", { partner: $("cr-partner").value, reason: $("cr-reason").value });
    }).then(function (o) {
      status((moving ? "Order moved to " : "Order credited to ") + o.partner + ": the ledger records what was cancelled and what is earned.");
      $("cr-reason").value = "";
      return Promise.all([openOrder(id), search()]);
    }).catch(function () {});
  });
  rta.loaders.orders = function () {
    return rta.reload().then(function () { rta.partnerSelect($("os-partner")); return search(); });
  };

  // ---- Commissions -----------------------------------------------------------------------------
  function loadCommissions() {
    var q = new URLSearchParams();
    if ($("cf-state").value) q.set("state", $("cf-state").value);
    if ($("cf-partner").value) q.set("partner", $("cf-partner").value);
    return rta.get("admin/commissions?" + q).then(function (b) {
      rta.table("commissions", ["Order", "Partner", "Share", "Earned", "Remaining", "State", ""], b.commissions.map(function (c) {
        var order = rta.button(c.order_id, "secondary small", function () { rta.show("orders").then(function () { return openOrder(c.order_id); }); });
        order.setAttribute("aria-label", "Open order " + c.order_id);
        return [order, c.partner, c.role, rta.money(c.earned_minor, c.currency), rta.money(c.remaining_minor, c.currency), stateCell(c), rta.commissionActions(c, loadCommissions)];
      }), { keys: b.commissions.map(function (c) { return c.entry_id; }), keyName: "data-entry", text: 3, empty: "No commission in this state." });
    });
  }
  $("commission-filter").addEventListener("submit", function (ev) { ev.preventDefault(); loadCommissions().catch(rta.fail); });
  rta.loaders.commissions = function () { return rta.reload().then(function () { rta.partnerSelect($("cf-partner")); return loadCommissions(); }); };
})();
