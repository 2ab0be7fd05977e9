// The public sign-up page: asks the server whether applications are open, sends one, and shows
// the server's refusal next to its field. No third-party service: a field people never see
// catches bots, and the server limits how often one visitor applies.
(function () {
  "use strict";
  var $ = rtui.$, el = rtui.el;
  var form = $("apply-form");
  function clear() {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (p) { p.remove(); });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (i) { i.removeAttribute("aria-invalid"); i.removeAttribute("aria-describedby"); });
    var top = form.querySelector(".form-error");
    top.hidden = true;
  }
  function show(field, message) {
    var input = field && form.querySelector("[data-field=" + field + "]");
    if (!input) { var top = form.querySelector(".form-error"); top.textContent = message; top.hidden = false; return; }
    var p = el("p", message.replace(new RegExp("^" + field + ": "), ""), "field-error");
    p.id = input.id + "-error";
    p.setAttribute("role", "alert");
    input.closest(".field").appendChild(p);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", p.id);
    input.focus();
  }
  fetch("../../v1/partner-applications").then(function (r) { return r.json(); }).then(function (s) {
    $(s.open ? "apply" : "closed").hidden = false;
  }).catch(function () { $("apply").hidden = false; });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clear();
    if (!$("ap-email").value.trim()) { show("email", "give your email, so the merchant can answer"); return; }
    var body = { email: $("ap-email").value, name: $("ap-name").value, website: $("ap-website").value, notes: $("ap-notes").value, homepage: $("ap-homepage").value };
    var button = form.querySelector("button");
    button.disabled = true;
    fetch("../../v1/partner-applications", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; }); })
      .then(function (res) {
        button.disabled = false;
        if (res.ok) { $("apply").hidden = true; $("thanks").hidden = false; $("thanks").focus(); return; }
        if (res.body.error === "applications_closed") { $("apply").hidden = true; $("closed").hidden = false; return; }
        show(res.body.field, res.body.message || "the application could not be sent");
      })
      .catch(function () { button.disabled = false; show(null, "The application could not be sent: check your connection and try again."); });
  });
})();
