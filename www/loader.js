// reftrack loader: the browser side of the snippet. `cargo xtask snippet` wraps this file and
// wasm-bindgen's glue in one function scope, so the page gets exactly one global, window.reftrack.
// Every decision (what to keep, what links carry, what events say) is made by the wasm (`core`);
// this file only reads and writes the browser. No eval; nothing here throws into the page.
// The wasm has one entry, call(op, len), over a buffer at io(): arguments go in as UTF-8 joined by
// U+001F, the answer comes back in the same place (tracker-wasm/src/exports.rs).
var w = window, d = document, loc = location;
var script = d.currentScript || d.querySelector('script[src*="reftrack.js"]');
var METHODS = ["affiliate", "lead", "conversion", "decorate", "consent"];
var FALLBACK = { affiliate: null, lead: false, conversion: false, consent: false };
var RECORD = "rt_ref", SENT = "rt_conv";
var FIELDS = "input[name=rt_click],input[name=affiliate],input[name=affiliate_id],input[data-reftrack]";
var previous = w.reftrack, queue = (previous && previous.q) || [];
var core, endpoint, sameSite = false, record = "", sent = "", lookingUp = null;

function attr(name) {
  var v = script && script.getAttribute("data-" + name);
  return v == null ? "" : v;
}
var cfg = {
  domains: attr("checkout-domains"),
  first: attr("attribution") === "first",
  consent: attr("consent") !== "required",
  memory: attr("storage") === "none",
  domain: attr("domain").replace(/^\./, ""),
  autoLead: script && script.hasAttribute("data-auto-lead") && attr("auto-lead") !== "false",
  clean: attr("clean-url") !== "false",
  days: parseInt(attr("window-days"), 10) || 0
};

var OPS = ["setup", "capture", "merge_lookup", "view", "checkout_params", "lead_event", "conversion_event"];
function bind(wasm) {
  var io = wasm.io(), size = 8192, enc = new TextEncoder(), dec = new TextDecoder();
  var c = {};
  OPS.forEach(function (name, op) {
    c[name] = function () {
      var args = [].map.call(arguments, function (a) { return String(a).replace(/\x1f/g, ""); }).join("\x1f");
      var r = enc.encodeInto(args, new Uint8Array(wasm.memory.buffer, io, size));
      // Too long to pass whole: answer nothing rather than decide on a cut value.
      return r.read < args.length ? "" : dec.decode(new Uint8Array(wasm.memory.buffer, io, wasm.call(op, r.written)));
    };
  });
  return c;
}

function now() { return Math.floor(Date.now() / 1000); }
// What the core says about the record: {partner, subId, clickId, expiresAt, expiresIn, lookup}.
function view() { return JSON.parse(core.view(record, now())); }
function attempt(f, fallback) { try { return f(); } catch (e) { return fallback; } }
function warn(message) { attempt(function () { console.warn("reftrack: " + message); }); }

function readCookie(name) {
  return attempt(function () {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? m[1] : "";
  }, "");
}
function writeCookie(name, value, maxAge) {
  attempt(function () {
    d.cookie = name + "=" + value + "; Max-Age=" + Math.floor(maxAge) + "; Path=/; SameSite=Lax" +
      (cfg.domain ? "; Domain=" + cfg.domain : "") + (loc.protocol === "https:" ? "; Secure" : "");
  });
}
function readLocal(key) { return attempt(function () { return localStorage.getItem(key) || ""; }, ""); }
function writeLocal(key, value) {
  attempt(function () { value ? localStorage.setItem(key, value) : localStorage.removeItem(key); });
}

// Keeps the record first-party: a cookie, mirrored in localStorage (Safari may drop either).
function persist() {
  if (!cfg.consent || cfg.memory || !record) return;
  writeCookie(RECORD, record, view().expiresIn);
  writeLocal(RECORD, record);
}
function forget() {
  writeCookie(RECORD, "", 0);
  writeLocal(RECORD, "");
  writeLocal(SENT, "");
}

// Beacons survive navigation and need no preflight (text/plain); fetch keepalive is the fallback.
function post(path, body, beacon) {
  return attempt(function () {
    var url = endpoint + path;
    if (beacon && navigator.sendBeacon && navigator.sendBeacon(url, body)) return true;
    fetch(url, { method: "POST", body: body, keepalive: true, mode: "no-cors", credentials: "include" })
      .catch(function () {});
    return true;
  }, false);
}
function getJSON(url, credentials) {
  return attempt(function () {
    var c = w.AbortController ? new AbortController() : null;
    if (c) setTimeout(function () { c.abort(); }, 1500);
    return fetch(url, { credentials: credentials ? "include" : "omit", signal: c && c.signal })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }, Promise.resolve(null));
}

// On the tracking domain's own site, the server re-sets its HttpOnly cookie for the full window.
function touch() {
  var click = view().clickId;
  if (cfg.consent && click && sameSite) post("/v1/touch", JSON.stringify({ click_id: click }), false);
}

// Asks the server once for what the record lacks (the partner behind a bare click id, or the
// tracking domain's own cookie when nothing is stored here). Every caller waits for that one answer.
function lookup() {
  if (lookingUp) return lookingUp;
  var path = cfg.consent ? view().lookup : "";
  if (!path) return Promise.resolve();
  return (lookingUp = getJSON(endpoint + path, path.indexOf("?") < 0).then(function (a) {
    if (!a || !a.partner) return;
    record = core.merge_lookup(record, a.click_id || "", a.partner, a.sub_id || "", Math.floor(Date.parse(a.expires_at) / 1000) || 0, now());
    persist();
    refresh();
  }));
}

function withParams(href, params, click) {
  var u = new URL(href, loc.href);
  params.split(" ").forEach(function (p) { u.searchParams.set(p, click); });
  return u.href;
}

// Fills affiliate fields and decorates checkout links and forms, now and for elements added later.
function refresh() {
  attempt(function () {
    var v = view(), click = v.clickId;
    [].forEach.call(d.querySelectorAll(FIELDS), function (input) {
      if (input.value) return;
      var wanted = input.getAttribute("data-reftrack") || input.name;
      var value = /^(rt_click|click|click_id)$/.test(wanted) ? click : /^(sub_id|sid)$/.test(wanted) ? v.subId : v.partner;
      if (value) input.value = value;
    });
    if (!click || !cfg.domains) return;
    [].forEach.call(d.querySelectorAll("a[href]"), function (a) {
      var params = core.checkout_params(a.hostname, cfg.domains);
      if (params) {
        var href = withParams(a.href, params, click);
        if (href !== a.href) a.href = href;
      }
    });
    [].forEach.call(d.querySelectorAll("form[action]"), function (f) {
      var u = new URL(f.action, loc.href), params = core.checkout_params(u.hostname, cfg.domains);
      if (!params) return;
      if ((f.method || "get").toLowerCase() === "get") {
        // A GET form replaces the action's query with its fields: carry the click as fields.
        params.split(" ").forEach(function (p) {
          if (f.querySelector("input[name=" + p + "]")) return;
          var i = d.createElement("input");
          i.type = "hidden"; i.name = p; i.value = click;
          f.appendChild(i);
        });
      } else {
        f.action = withParams(f.action, params, click);
      }
    });
  });
}

function sendLead(email) {
  var body = cfg.consent ? core.lead_event(record, email || "", loc.href, now()) : "";
  return !!body && post("/v1/events", body, true);
}

function start() {
  var params = attempt(function () { return new URL(loc.href).searchParams; }, null);
  var p = function (n) { return (params && params.get(n)) || ""; };
  var stored = cfg.consent && !cfg.memory;
  record = core.capture(stored ? readCookie(RECORD) : "", stored ? readLocal(RECORD) : "", p("rt_click"), p("aff"), p("sid"), cfg.first ? 1 : "", cfg.days, now());
  sent = stored ? readLocal(SENT) : "";
  if (p("rt_click") && cfg.clean) {
    attempt(function () {
      var u = new URL(loc.href);
      u.searchParams.delete("rt_click");
      history.replaceState(history.state, "", u.href);
    });
  }
  persist();
  touch();
  refresh();
  attempt(function () {
    // Pages that change constantly get at most one refresh per 100 ms, never one per mutation.
    var scheduled = 0;
    new MutationObserver(function () {
      if (!scheduled) scheduled = setTimeout(function () { scheduled = 0; refresh(); }, 100);
    }).observe(d.documentElement, { childList: true, subtree: true });
  });
  if (cfg.autoLead) {
    d.addEventListener("submit", function (e) {
      attempt(function () {
        var field = e.target.querySelector("input[type=email],input[name=email]");
        if (field && field.value) sendLead(field.value);
      });
    }, true);
  }
  // A bare click id (a decorated link): learn its partner for fields and affiliate().
  if (record && view().lookup) lookup();
}

var api = {
  affiliate: function () {
    return lookup().then(function () {
      var v = view();
      if (!v.partner && !v.clickId) return null;
      return { partner: v.partner, subId: v.subId, clickId: v.clickId, expiresAt: new Date(v.expiresAt * 1000).toISOString() };
    });
  },
  lead: function (o) { return sendLead(o && o.email); },
  conversion: function (o) {
    if (!cfg.consent) return false;
    o = o || {};
    var text = function (v) { return v == null ? "" : String(v); };
    // The core answers "" (invalid), "sent" (already reported), or the new list, a newline, the event.
    // A number of major units is read to three decimals (0.1 + 0.2 is 0.3); a string exactly.
    var amount = typeof o.amount === "number" ? o.amount.toFixed(3) : text(o.amount);
    var out = core.conversion_event(record, text(o.orderId), text(o.amountMinor), amount, text(o.currency), sent, now());
    if (out === "sent") return false;
    if (!out) { warn("conversion needs {orderId, amountMinor or amount, currency}"); return false; }
    var nl = out.indexOf("\n");
    if (!post("/v1/events", out.slice(nl + 1), true)) return false;
    sent = out.slice(0, nl);
    if (!cfg.memory) writeLocal(SENT, sent);
    return true;
  },
  decorate: function (url) {
    var click = view().clickId;
    return click ? withParams(url, core.checkout_params("", "*"), click) : url;
  },
  consent: function (granted) {
    cfg.consent = !!granted;
    if (granted) { persist(); touch(); } else forget();
    return true;
  }
};

var ready;
try {
  if (!script || typeof WebAssembly !== "object") throw 0;
  var wasmUrl = script.src.replace(/reftrack\.js([?#].*)?$/, "reftrack_bg.wasm");
  ready = wasm_bindgen({ module_or_path: wasmUrl }).then(function (wasm) {
    core = bind(wasm);
    var s = core.setup(script.src, loc.hostname, cfg.domain);
    sameSite = s.charAt(0) === "1";
    endpoint = s.slice(1);
    start();
  });
} catch (e) {
  ready = Promise.reject(e);
}
ready.catch(function () {});

// window.reftrack: reftrack("method", …) or reftrack.method(…); every call returns a Promise that
// resolves (never rejects): with a fallback when the wasm cannot run (old browser, CSP).
function call(name, args) {
  var fallback = name === "decorate" ? args[0] : FALLBACK[name];
  return ready.then(function () { return api[name].apply(null, args); }).catch(function () { return fallback; });
}
function reftrack(name) {
  return METHODS.indexOf(name) < 0 ? Promise.resolve(null) : call(name, [].slice.call(arguments, 1));
}
METHODS.forEach(function (m) { reftrack[m] = function () { return call(m, [].slice.call(arguments)); }; });
w.reftrack = reftrack;

// Replay calls made before the script loaded: reftrack('conversion', {...}), or the
// promise-returning stub's [arguments, resolve] pairs.
queue.forEach(function (item) {
  var pair = item && item.length === 2 && typeof item[1] === "function";
  var args = pair ? item[0] : item;
  var result = reftrack.apply(null, [].slice.call(args));
  if (pair) item[1](result);
});
