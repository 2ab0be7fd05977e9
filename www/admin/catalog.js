// Programs (with what a partner earns on a sample order, computed by the server as you type, and
// product overrides with their owners), links with their figures, and promotional resources.
(function () {
  "use strict";
  var $ = rtui.$, el = rtui.el, status = rtui.status;

  // ---- Programs -----------------------------------------------------------------------------
  var programForm = rta.form($("program-form")), productForm = rta.form($("product-form"));
  var editing = null;
  function currency() { return ($("pg-currency").value.trim() || "USD").toUpperCase(); }
  function saleTerms(p, cur) {
    return p.flat_minor != null ? rta.money(p.flat_minor, cur) + " per order" : rta.pct(p.rate_bps);
  }
  function recurringText(r) { return r === "every" ? "every renewal" : r === "none" ? "first payment only" : "first " + r.split(":")[1] + " renewals"; }
  function productText(o, cur) {
    var pays = o.flat_minor != null ? rta.money(o.flat_minor, cur) + " per unit" : o.rate_bps != null ? rta.pct(o.rate_bps) : "the program's rate";
    return o.sku + ": " + pays + (o.owner ? "; owner " + o.owner + " " + rta.pct(o.owner_bps) : "");
  }
  function renderPrograms() {
    rta.table("programs", ["Code", "Name", "Sale", "Tier 2 / 3", "Lead share", "Renewals", "Cookie / refund window", "Products", ""], rta.programs.map(function (p) {
      var edit = rta.button("Edit", "secondary small", function () { openProgram(p.code); });
      edit.setAttribute("aria-label", "Edit program " + p.code);
      var lead = p.lead_rate_bps != null ? rta.pct(p.lead_rate_bps) : p.lead_flat_minor != null ? rta.money(p.lead_flat_minor, "USD") : "—";
      return [p.code, p.name, saleTerms(p, "USD"), rta.pct(p.tier2_bps) + " / " + rta.pct(p.tier3_bps), lead, recurringText(p.recurring),
        p.window_days + " / " + p.hold_days + " days", p.products.map(function (o) { return productText(o, "USD"); }).join("; ") || "—", edit];
    }), { keys: rta.programs.map(function (p) { return p.code; }), keyName: "data-program", text: 2, empty: "No program yet: make the first one." });
  }
  function syncInputs() {
    var flat = $("pg-sale-flat").checked;
    $("pg-rate").disabled = flat; $("pg-flat").disabled = !flat;
    $("pg-lead").disabled = $("pg-lead-kind").value === "none";
    $("pg-recurring-n").disabled = $("pg-recurring").value !== "first";
  }
  function openProgram(code) {
    var p = code ? rta.programs.filter(function (x) { return x.code === code; })[0] : null;
    editing = p ? p.code : null;
    $("program-panel").hidden = false;
    $("program-title").textContent = p ? "Edit " + p.name + " (" + p.code + ")" : "New program";
    programForm.clear(); productForm.clear();
    var cur = currency();
    $("pg-code").value = p ? p.code : ""; $("pg-code").disabled = !!p;
    $("pg-name").value = p ? p.name : "";
    $("pg-sale-flat").checked = !!(p && p.flat_minor != null); $("pg-sale-rate").checked = !(p && p.flat_minor != null);
    $("pg-rate").value = p ? String(p.rate_bps / 100) : "30";
    $("pg-flat").value = p && p.flat_minor != null ? rta.major(p.flat_minor, cur) : "";
    $("pg-lead-kind").value = p && p.lead_rate_bps != null ? "rate" : p && p.lead_flat_minor != null ? "flat" : "none";
    $("pg-lead").value = p && p.lead_rate_bps != null ? String(p.lead_rate_bps / 100) : p && p.lead_flat_minor != null ? rta.major(p.lead_flat_minor, cur) : "";
    $("pg-tier2").value = p ? String(p.tier2_bps / 100) : "0";
    $("pg-tier3").value = p ? String(p.tier3_bps / 100) : "0";
    var r = p ? p.recurring : "every";
    $("pg-recurring").value = r.indexOf("first:") === 0 ? "first" : r;
    $("pg-recurring-n").value = r.indexOf("first:") === 0 ? r.split(":")[1] : "12";
    $("pg-window").value = p ? p.window_days : 30;
    $("pg-hold").value = p ? p.hold_days : 30;
    $("pg-pixel").checked = !!(p && p.pixel_commission);
    syncInputs();
    renderProducts();
    $("program-panel").scrollIntoView({ block: "start" });
    (p ? $("pg-name") : $("pg-code")).focus({ preventScroll: true });
    preview();
  }
  function programBody() {
    var cur = currency(), flat = $("pg-sale-flat").checked, lead = $("pg-lead-kind").value;
    var recurring = $("pg-recurring").value === "first" ? "first:" + rta.whole($("pg-recurring-n").value, "recurring") : $("pg-recurring").value;
    return {
      code: $("pg-code").value.trim(), name: $("pg-name").value,
      rate_bps: flat ? 0 : rta.bps($("pg-rate").value, "rate_bps"),
      flat_minor: flat ? rta.minor($("pg-flat").value, cur, "flat_minor") : null,
      window_days: rta.whole($("pg-window").value, "window_days"),
      hold_days: rta.whole($("pg-hold").value, "hold_days"),
      tier2_bps: rta.bps($("pg-tier2").value, "tier2_bps"),
      tier3_bps: rta.bps($("pg-tier3").value, "tier3_bps"),
      recurring: recurring,
      pixel_commission: $("pg-pixel").checked,
      lead_rate_bps: lead === "rate" ? rta.bps($("pg-lead").value, "lead_rate_bps") : null,
      lead_flat_minor: lead === "flat" ? rta.minor($("pg-lead").value, cur, "lead_flat_minor") : null
    };
  }
  var whoText = { partner: "A partner in it (who made the sale)", parent: "Their parent (tier 2)", grandparent: "Their parent's parent (tier 3)", lead: "A lead partner (who brought the buyer earlier)" };
  var previewTimer = null, previewSeq = 0;
  function preview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 250);
  }
  function runPreview() {
    var seq = ++previewSeq, box = $("preview-error");
    var saved = editing ? rta.programs.filter(function (x) { return x.code === editing; })[0] : null;
    var body, cur = currency();
    try {
      body = {
        program: programBody(),
        products: (saved ? saved.products : []).map(function (o) { return { sku: o.sku, rate_bps: o.rate_bps, flat_minor: o.flat_minor, owner: o.owner, owner_bps: o.owner_bps }; }),
        sample: { currency: cur, sku: $("pv-sku").value.trim(), quantity: 1, unit_price_minor: rta.minor($("pv-price").value, cur, "unit_price_minor") }
      };
    } catch (e) { box.textContent = "Preview: " + e.message + " (" + e.field + ")"; box.hidden = false; return; }
    rta.api("POST", "admin/commission-preview", body).then(function (p) {
      if (seq !== previewSeq) return;
      box.hidden = true;
      rta.table("program-preview", ["On a " + rta.money(p.total_minor, p.currency) + " order", "Earns"], p.shares.map(function (s) {
        return [s.role === "owner" ? "Owner " + s.who + " (product owner)" : whoText[s.who] || s.who, rta.money(s.amount_minor, p.currency)];
      }), { keys: p.shares.map(function (s) { return s.role; }), keyName: "data-role", empty: "Nobody earns on this order." });
    }).catch(function (e) {
      if (seq !== previewSeq) return;
      box.textContent = "Preview: " + String(e.message);
      box.hidden = false;
    });
  }
  ["pg-sale-rate", "pg-sale-flat", "pg-lead-kind", "pg-recurring"].forEach(function (id) { $(id).addEventListener("change", function () { syncInputs(); preview(); }); });
  $("program-form").addEventListener("input", preview);
  $("preview-form").addEventListener("input", preview);
  $("preview-form").addEventListener("submit", function (ev) { ev.preventDefault(); runPreview(); });
  $("program-new").addEventListener("click", function () { openProgram(null); });
  $("program-cancel").addEventListener("click", function () { $("program-panel").hidden = true; editing = null; });
  $("program-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var code = editing;
    programForm.run(function () {
      var body = programBody();
      if (!code) return rta.send("POST", "admin/programs", body);
      delete body.code;
      return rta.send("PATCH", "admin/programs/" + encodeURIComponent(code), body);
    }).then(function (p) {
      status("Program " + p.code + " saved." + (code ? " New terms apply to new orders." : " Add product overrides below if some products pay differently."));
      return rta.reload().then(function () { renderPrograms(); openProgram(p.code); });
    }).catch(function () {});
  });
  function renderProducts() {
    var p = editing ? rta.programs.filter(function (x) { return x.code === editing; })[0] : null;
    $("products-box").hidden = !p;
    var skus = $("pv-skus");
    skus.textContent = "";
    if (!p) return;
    p.products.forEach(function (o) { skus.appendChild(new Option(o.sku, o.sku)); });
    rta.partnerSelect($("pr-owner"), "");
    rta.table("products", ["SKU", "Pays", "Owner", ""], p.products.map(function (o) {
      var remove = rta.button("Remove", "secondary small", function () {
        rta.send("DELETE", "admin/programs/" + encodeURIComponent(p.code) + "/products/" + encodeURIComponent(o.sku)).then(function () {
          status("Override of " + o.sku + " removed: it earns the program's rate again.");
          return rta.reload().then(function () { renderPrograms(); renderProducts(); preview(); });
        }).catch(rta.fail);
      });
      remove.setAttribute("aria-label", "Remove the override of " + o.sku);
      var pays = o.flat_minor != null ? rta.money(o.flat_minor, currency()) + " per unit" : o.rate_bps != null ? rta.pct(o.rate_bps) : "the program's rate";
      return [o.sku, pays, o.owner ? o.owner + " earns " + rta.pct(o.owner_bps) : "—", remove];
    }), { keys: p.products.map(function (o) { return o.sku; }), keyName: "data-sku", text: 3, empty: "Every product earns the program's terms." });
  }
  $("pr-kind").addEventListener("change", function () { $("pr-value").disabled = $("pr-kind").value === "none"; });
  $("product-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var code = editing, cur = currency();
    productForm.run(function () {
      var kind = $("pr-kind").value, owner = $("pr-owner").value;
      var body = { sku: $("pr-sku").value.trim() };
      if (kind === "rate") body.rate_bps = rta.bps($("pr-value").value, "rate_bps");
      if (kind === "flat") body.flat_minor = rta.minor($("pr-value").value, cur, "flat_minor");
      if (owner || $("pr-owner-share").value.trim()) {
        body.owner = owner || null;
        body.owner_bps = $("pr-owner-share").value.trim() ? rta.bps($("pr-owner-share").value, "owner_bps") : null;
      }
      return rta.send("POST", "admin/programs/" + encodeURIComponent(code) + "/products", body);
    }).then(function (o) {
      status("Product " + o.sku + " saved in " + code + ".");
      $("product-form").reset();
      $("pr-value").disabled = false;
      return rta.reload().then(function () { renderPrograms(); renderProducts(); preview(); });
    }).catch(function () {});
  });
  rta.loaders.programs = function () { return rta.reload().then(renderPrograms); };

  // ---- Links ---------------------------------------------------------------------------------
  var linkForm = rta.form($("link-form")), editingLink = null;
  function renderLinks() {
    rta.table("links", ["Code", "Name", "Destination", "For", "Hits", "Opt-ins", "Orders", ""], rta.links.map(function (l) {
      var edit = rta.button("Edit", "secondary small", function () { openLink(l.code); });
      edit.setAttribute("aria-label", "Edit link " + l.code);
      var limit = l.partner ? "only " + l.partner : l.programs.length ? "partners of " + l.programs.join(", ") : "every partner";
      return [l.code, l.name, l.destination, limit, l.hits, l.opt_ins, l.orders, edit];
    }), { keys: rta.links.map(function (l) { return l.code; }), keyName: "data-link", text: 4, empty: "No link yet: partners need one to share." });
  }
  function openLink(code) {
    var l = code ? rta.links.filter(function (x) { return x.code === code; })[0] : null;
    editingLink = l ? l.code : null;
    $("link-panel").hidden = false;
    $("link-title").textContent = l ? "Edit link " + l.code : "New link";
    linkForm.clear();
    $("ln-code").value = l ? l.code : ""; $("ln-code").disabled = !!l;
    $("ln-name").value = l ? l.name : "";
    $("ln-destination").value = l ? l.destination : "";
    rta.partnerSelect($("ln-partner"), l && l.partner ? l.partner : "");
    rta.programChecks($("ln-programs"), "ln-program", l ? l.programs : []);
    $("link-panel").scrollIntoView({ block: "start" });
    (l ? $("ln-name") : $("ln-code")).focus({ preventScroll: true });
  }
  $("link-new").addEventListener("click", function () { openLink(null); });
  $("link-cancel").addEventListener("click", function () { $("link-panel").hidden = true; });
  $("link-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var code = editingLink;
    linkForm.run(function () {
      var body = { name: $("ln-name").value, destination: $("ln-destination").value.trim(), partner: $("ln-partner").value || null, programs: rta.checked($("ln-programs")) };
      if (code) return rta.send("PATCH", "admin/links/" + encodeURIComponent(code), body);
      body.code = $("ln-code").value.trim();
      return rta.send("POST", "admin/links", body);
    }).then(function (l) {
      status("Link " + l.code + " saved.");
      $("link-panel").hidden = true;
      return rta.reload().then(renderLinks);
    }).catch(function () {});
  });
  rta.loaders.links = function () { return rta.reload().then(renderLinks); };

  // ---- Resources -----------------------------------------------------------------------------
  var resourceForm = rta.form($("resource-form"));
  var MAX_IMAGE = 256 * 1024, TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  function openLinks(program) {
    return rta.links.filter(function (l) { return !l.partner && (!l.programs.length || l.programs.indexOf(program) >= 0); });
  }
  function fillResourceSelects() {
    var ps = $("rs-program"), keep = ps.value;
    ps.textContent = "";
    rta.programs.forEach(function (p) { ps.appendChild(new Option(p.name + " (" + p.code + ")", p.code)); });
    if (keep) ps.value = keep;
    var ls = $("rs-link"), keepLink = ls.value;
    ls.textContent = "";
    openLinks(ps.value).forEach(function (l) { ls.appendChild(new Option(l.name + " (/go/" + l.code + ")", l.code)); });
    if (keepLink) ls.value = keepLink;
  }
  function syncKind() {
    var text = $("rs-kind-text").checked;
    Array.prototype.forEach.call(document.querySelectorAll("#resource-form .banner-only"), function (b) { b.hidden = text; });
    Array.prototype.forEach.call(document.querySelectorAll("#resource-form .text-only"), function (b) { b.hidden = !text; });
  }
  function renderResources(list) {
    var box = $("resources");
    box.textContent = "";
    if (!list.length) box.appendChild(el("p", "No resources yet: add a banner or a text below.", "hint"));
    list.forEach(function (r) {
      var card = el("div", null, "resource");
      card.setAttribute("data-resource", r.id);
      card.appendChild(el("strong", r.title));
      card.appendChild(el("div", r.kind + " · " + r.program + " · /go/" + r.link, "hint"));
      if (r.kind === "banner" && r.image_src) { var img = document.createElement("img"); img.src = r.image_src; img.alt = r.alt || r.title; card.appendChild(img); }
      if (r.kind === "text") card.appendChild(el("pre", r.body));
      var del = rta.button("Remove", "secondary small", function () {
        rta.send("DELETE", "admin/resources/" + r.id).then(function () { status("Resource removed."); return load(); }).catch(rta.fail);
      });
      del.setAttribute("aria-label", "Remove resource " + r.title);
      card.appendChild(del);
      box.appendChild(card);
    });
  }
  function load() {
    return rta.reload().then(function () { fillResourceSelects(); return rta.get("admin/resources"); }).then(function (b) { renderResources(b.resources); });
  }
  function readFile(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(new rta.FieldError("image", "the file could not be read")); };
      reader.readAsDataURL(file);
    });
  }
  $("rs-program").addEventListener("change", fillResourceSelects);
  $("rs-kind-banner").addEventListener("change", syncKind);
  $("rs-kind-text").addEventListener("change", syncKind);
  $("resource-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    resourceForm.run(function () {
      var kind = $("rs-kind-text").checked ? "text" : "banner";
      var body = { program: $("rs-program").value, kind: kind, title: $("rs-title").value, link: $("rs-link").value, alt: $("rs-alt").value };
      if (!body.program) throw new rta.FieldError("program", "add a program first");
      if (!body.link) throw new rta.FieldError("link", "add a link open to this program's partners first");
      if (kind === "text") { body.text = $("rs-text").value; return rta.send("POST", "admin/resources", body); }
      var file = $("rs-file").files[0], url = $("rs-url").value.trim();
      if (url && !file) { body.image_url = url; return rta.send("POST", "admin/resources", body); }
      if (!file) throw new rta.FieldError("image", "choose the banner's image, or give its address");
      if (TYPES.indexOf(file.type) < 0) throw new rta.FieldError("image", "a PNG, JPEG, GIF or WebP image (SVG is refused: it can carry script)");
      if (file.size > MAX_IMAGE) throw new rta.FieldError("image", "the image is larger than 256 KiB");
      return readFile(file).then(function (data) { body.image_base64 = data; return rta.send("POST", "admin/resources", body); });
    }).then(function (r) {
      status("Resource " + r.title + " added: partners of " + r.program + " see it now.");
      $("resource-form").reset();
      syncKind();
      return load();
    }).catch(function () {});
  });
  rta.loaders.resources = function () { syncKind(); return load(); };
})();
