// reftrack loader: the browser side of the snippet. `cargo xtask snippet` puts this file in one
// function scope after the call contract it generates from tracker-wasm/src/contract.rs
// (`CONTRACT`, `CAPACITY`), so the page gets exactly one global, window.reftrack.
// Every decision (what to keep, what to ask the server, which URLs carry the click and where, what
// events say) is made by the wasm (`core`); this file only reads and writes the browser. Each
// operation is called as core.<name>({argument: value, …}) and answers {field: "text", …}; the
// build fails if a call here differs from the contract. No eval; nothing here throws into the page.
var w = window, d = document, loc = location;
var script = d.currentScript || d.querySelector('script[src*="reftrack.js"]');
var METHODS = ["affiliate", "lead", "conversion", "decorate", "consent"];
var FALLBACK = { affiliate: null, lead: false, conversion: false, consent: false };
var RECORD = "rt_ref", SENT = "rt_conv", SEARCHED = "rt_none", LOCAL = "localStorage", SESSION = "sessionStorage";
var FIELDS = "input[name=rt_click],input[name=affiliate],input[name=affiliate_id],input[data-reftrack]";
// Elements whose attribute holds a URL the tool loads: links, iframes (Tally's lazy ones too), Calendly's inline widget.
var URLS = [["a[href]", "href"], ["iframe[src]", "src"], ["iframe[data-tally-src]", "data-tally-src"], [".calendly-inline-widget[data-url]", "data-url"]];
var TYPEFORM = "[data-tf-widget],[data-tf-popup],[data-tf-slider],[data-tf-popover],[data-tf-sidetab],[data-tf-live]";
var previous = w.reftrack, queue = (previous && previous.q) || [];
var core, endpoint, sameSite = "", record = "", sent = "", searched = "", arrival = {}, lookingUp = null, rules = {};

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

// The contract's operations as functions of named arguments answering named fields.
function bind(wasm) {
  var enc = new TextEncoder(), dec = new TextDecoder(), c = {};
  CONTRACT.forEach(function (op, n) {
    c[op[0]] = function (a) {
      var args = op[1].map(function (k) { return String(a[k] == null ? "" : a[k]).replace(/\x1f/g, ""); }).join("\x1f");
      var buf = function (len) { return new Uint8Array(wasm.memory.buffer, wasm.io(), len); };
      var r = enc.encodeInto(args, buf(CAPACITY)), fields = [], answer = {};
      // Too long to pass whole: answer nothing rather than decide on a cut value.
      if (r.read === args.length) fields = dec.decode(buf(wasm.call(n, r.written))).split("\x1f");
      op[2].forEach(function (k, i) { answer[k] = fields[i] || ""; });
      return answer;
    };
  });
  return c;
}

function now() { return Math.floor(Date.now() / 1000); }
// What the core says about the record: {lookup, partner, sub_id, click, expires_at, expires_in}.
function view() { return core.view({ record: record, now: now(), same_site: sameSite, searched: searched }); }
function attempt(f, fallback) { try { return f(); } catch (e) { return fallback; } }
function warn(message) { attempt(function () { console.warn("reftrack: " + message); }); }
function each(selector, f) { [].forEach.call(d.querySelectorAll(selector), function (el) { attempt(function () { f(el); }); }); }

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
// Reading window.localStorage itself throws where the browser refuses storage.
function read(kind, key) { return attempt(function () { return w[kind].getItem(key) || ""; }, ""); }
function write(kind, key, value) {
  attempt(function () { value ? w[kind].setItem(key, value) : w[kind].removeItem(key); });
}

// Keeps the record first-party: a cookie, mirrored in localStorage (Safari may drop either).
function persist() {
  if (!cfg.consent || cfg.memory || !record) return;
  writeCookie(RECORD, record, view().expires_in);
  write(LOCAL, RECORD, record);
}
function forget() {
  record = sent = "";
  writeCookie(RECORD, "", 0);
  write(LOCAL, RECORD, "");
  write(LOCAL, SENT, "");
  write(SESSION, SEARCHED, "");
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

// On the tracking domain's own site, the server re-sets its HttpOnly cookie for the full window
// (never in cookieless mode, which asks the server for no cookie at all).
function touch() {
  var click = view().click;
  if (cfg.consent && !cfg.memory && click && sameSite) post("/v1/touch", JSON.stringify({ click_id: click }), false);
}

// Asks the server at most once per page for what the record lacks: the partner behind a bare
// click id, or, with nothing stored on the tracking domain's own site, the click its HttpOnly
// cookie still knows. A tab that found nothing does not ask again. Every caller waits for that one answer.
function lookup() {
  if (lookingUp) return lookingUp;
  var path = cfg.consent ? view().lookup : "", byCookie = path.indexOf("?") < 0;
  if (!path) return Promise.resolve();
  return (lookingUp = getJSON(endpoint + path, byCookie).then(function (a) {
    if (!a || !a.partner) {
      searched = byCookie ? "1" : searched;
      if (byCookie && !cfg.memory) write(SESSION, SEARCHED, "1");
      return;
    }
    record = core.merge_lookup({
      record: record, click: a.click_id, partner: a.partner, sub_id: a.sub_id,
      expires_at: Math.floor(Date.parse(a.expires_at) / 1000) || 0, now: now()
    }).record;
    persist();
    refresh();
  }));
}

// The core's rule for a URL's host and path, asked once per host and path.
function rule(u, any) {
  var key = u.hostname + u.pathname + any;
  return rules[key] || (rules[key] = core.decoration({ host: u.hostname, path: u.pathname, domains: any ? "*" : cfg.domains }));
}
// `url` carrying the click where its tool or cart returns it; `url` itself when it needs nothing.
function decorated(url, any) {
  return attempt(function () {
    var click = cfg.consent && view().click, u = new URL(url, loc.href), before = u.href;
    if (!click || !/^https?:$/.test(u.protocol)) return url;
    var r = rule(u, any || "");
    r.query.split(" ").forEach(function (p) { if (p) u.searchParams.set(p, click); });
    if (r.hash) {
      var h = new URLSearchParams(u.hash.slice(1));
      r.hash.split(" ").forEach(function (p) { h.set(p, click); });
      u.hash = h.toString();
    }
    return u.href === before ? url : u.href;
  }, url);
}
function decorateAttribute(el, name) {
  var value = el.getAttribute(name), href = value && decorated(value);
  if (href && href !== value) el.setAttribute(name, href);
}
// Iframes are decorated as they are added, before they load.
function frame(el) {
  decorateAttribute(el, "src");
  decorateAttribute(el, "data-tally-src");
}

// Calendly's popup and inline widgets opened from the page's own code get the click in their URL.
function patchCalendly() {
  var C = w.Calendly;
  ["initPopupWidget", "initInlineWidget"].forEach(function (m) {
    var f = C && C[m];
    if (typeof f !== "function" || f.reftrack) return;
    (C[m] = function (o) {
      attempt(function () { if (o && o.url) o.url = decorated(o.url); });
      return f.apply(this, arguments);
    }).reftrack = 1;
  });
}

// Fills affiliate fields and decorates links, forms, iframes and embeds, now and when more are added.
function refresh() {
  attempt(function () {
    if (!cfg.consent) return;
    var v = view(), click = v.click;
    each(FIELDS, function (input) {
      if (input.value) return;
      var wanted = input.getAttribute("data-reftrack") || input.name;
      var value = /^(rt_click|click|click_id)$/.test(wanted) ? click : /^(sub_id|sid)$/.test(wanted) ? v.sub_id : v.partner;
      if (value) input.value = value;
    });
    if (!click) return;
    URLS.forEach(function (u) { each(u[0], function (el) { decorateAttribute(el, u[1]); }); });
    each("form[action]", function (f) {
      var u = new URL(f.action, loc.href), query = rule(u, "").query;
      if (!query) return;
      if ((f.method || "get").toLowerCase() === "get") {
        // A GET form replaces the action's query with its fields: carry the click as fields.
        query.split(" ").forEach(function (p) {
          if ([].some.call(f.elements, function (i) { return i.name === p; })) return;
          var i = d.createElement("input");
          i.type = "hidden"; i.name = p; i.value = click;
          f.appendChild(i);
        });
      } else {
        f.action = decorated(f.action);
      }
    });
    // Typeform's embed library reads hidden fields from data-tf-hidden ("key=value,…").
    each(TYPEFORM, function (el) {
      var hidden = el.getAttribute("data-tf-hidden") || "";
      if (!/(^|,)\s*rt_click=/.test(hidden)) el.setAttribute("data-tf-hidden", (hidden ? hidden + "," : "") + "rt_click=" + click);
    });
    patchCalendly();
  });
}

function sendLead(email) {
  var body = cfg.consent ? core.lead_event({ record: record, email: email, page: loc.href, now: now() }).body : "";
  return !!body && post("/v1/events", body, true);
}

// Reads what is kept (only with consent, never in cookieless mode) against what the address
// brought, then stores, refreshes the server's cookie, fills and decorates, and asks the server.
function load() {
  var stored = cfg.consent && !cfg.memory;
  record = core.capture({
    cookie: stored ? readCookie(RECORD) : "", local: stored ? read(LOCAL, RECORD) : "",
    click: arrival.click, partner: arrival.partner, sub_id: arrival.sub_id,
    first: cfg.first ? 1 : "", window_days: cfg.days, now: now()
  }).record;
  sent = stored ? read(LOCAL, SENT) : "";
  searched = stored ? read(SESSION, SEARCHED) : searched;
  persist();
  touch();
  refresh();
  lookup();
}

function start() {
  var params = attempt(function () { return new URL(loc.href).searchParams; }, null);
  var p = function (n) { return (params && params.get(n)) || ""; };
  arrival = { click: p("rt_click"), partner: p("aff"), sub_id: p("sid") };
  if (arrival.click && cfg.clean) {
    attempt(function () {
      var u = new URL(loc.href);
      u.searchParams.delete("rt_click");
      history.replaceState(history.state, "", u.href);
    });
  }
  load();
  attempt(function () {
    // Pages that change constantly get at most one refresh per 100 ms, never one per mutation;
    // an added iframe is decorated at once, before it loads.
    var scheduled = 0;
    new MutationObserver(function (changes) {
      attempt(function () {
        if (!cfg.consent) return;
        changes.forEach(function (m) {
          [].forEach.call(m.addedNodes, function (n) {
            if (n.tagName === "IFRAME") frame(n);
            else if (n.querySelectorAll) [].forEach.call(n.querySelectorAll("iframe"), frame);
          });
        });
      });
      if (!scheduled) scheduled = setTimeout(function () { scheduled = 0; refresh(); }, 100);
    }).observe(d.documentElement, { childList: true, subtree: true });
    // Before a page's own onclick opens a Calendly popup.
    d.addEventListener("click", function () { attempt(patchCalendly); }, true);
  });
  if (cfg.autoLead) {
    d.addEventListener("submit", function (e) {
      attempt(function () {
        var field = e.target.querySelector("input[type=email],input[name=email]");
        if (field && field.value) sendLead(field.value);
      });
    }, true);
  }
}

var api = {
  affiliate: function () {
    return lookup().then(function () {
      var v = view();
      if (!v.partner && !v.click) return null;
      return { partner: v.partner || null, subId: v.sub_id || null, clickId: v.click || null, expiresAt: new Date(v.expires_at * 1000).toISOString() };
    });
  },
  lead: function (o) { return sendLead(o && o.email); },
  conversion: function (o) {
    if (!cfg.consent) return false;
    o = o || {};
    // A number of major units is read to three decimals (0.1 + 0.2 is 0.3); a string exactly.
    var amount = typeof o.amount === "number" ? o.amount.toFixed(3) : o.amount;
    var c = core.conversion_event({ record: record, order_id: o.orderId, amount_minor: o.amountMinor, amount: amount, currency: o.currency, sent: sent, now: now() });
    if (c.outcome === "invalid") warn("conversion needs {orderId, amountMinor or amount, currency}");
    if (c.outcome !== "send" || !post("/v1/events", c.body, true)) return false;
    sent = c.sent;
    if (!cfg.memory) write(LOCAL, SENT, sent);
    return true;
  },
  decorate: function (url) { return decorated(url, "*"); },
  consent: function (granted) {
    cfg.consent = !!granted;
    granted ? load() : forget();
    return true;
  }
};

var ready;
try {
  if (!script || typeof WebAssembly !== "object") throw 0;
  var wasmUrl = script.src.replace(/reftrack\.js([?#].*)?$/, "reftrack_bg.wasm");
  // The core imports nothing (the build checks it).
  ready = fetch(wasmUrl).then(function (r) {
    if (!r.ok) throw 0;
    return r.arrayBuffer();
  }).then(function (bytes) {
    return WebAssembly.instantiate(bytes, {});
  }).then(function (m) {
    core = bind(m.instance.exports);
    var s = core.setup({ script_src: script.src, page_host: loc.hostname, cookie_domain: cfg.domain });
    sameSite = s.same_site;
    endpoint = s.endpoint;
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
