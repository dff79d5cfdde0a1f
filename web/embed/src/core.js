// Tracking core: bootstrap, identity, credentials and the non-UI Comagic API.

import { cookies, setCookie } from './cookies.js';
import { encode } from './json.js';
import { post } from './net.js';
import { load, save } from './storage.js';
import { copy, doc, filled, hasOwn, invoke, later, w, warn } from './util.js';

/** S is the state of the script on this page. */
export const S = {
  siteKey: '',
  base: '', // API origin (plus path prefix), no trailing slash
  started: false,
  ready: false, // bootstrap answered
  dead: false, // bootstrap failed for good
  retrying: false, // bootstrap's first attempt failed, retries running
  c: null, // credentials and ids from the server
  device: '',
  ops: false,
  settings: null,
  rules: null, // lead rules of the bootstrap answer (evaluated by the widget framework)
  bootUrl: '',
  lastUrl: '',
  waiters: [],
  props: {}, // name -> value | true (flag) | false (absent): fully known
  has: {}, // name -> bool: presence known, value maybe not
  flight: {}, // de-duplicated reads in progress: key -> [callbacks]
  cfg: { dynamical: false, mask: '', widgetsOff: false, widgetsOptions: {} },
};

/** hooks are set by modules that take part of every bootstrap and hit
 * answer: phones(answer) (phones.js). */
export const hooks = { phones: null };

const url = (path) => S.base + '/api/track/' + encodeURIComponent(S.siteKey) + '/' + path;
const netError = () => ({ success: false, error: { code: 'network', message: 'the Comagic server cannot be reached' } });

// Where the previous page view left its ids: the _cmg_key<S> cookie holds
// "<site_key>.<key>", and its suffix S names the _comagic_id<S> cookie.
function stored() {
  const all = cookies();
  let sfx = null;
  let key = '';
  for (let i = 0; i < all.length; i++) {
    const n = all[i][0];
    const v = all[i][1];
    if (n.indexOf('_cmg_key') === 0 && v.indexOf(S.siteKey + '.') === 0) {
      sfx = n.slice(8);
      key = v.slice(S.siteKey.length + 1);
      break;
    }
  }
  if (sfx === null) return null;
  for (let i = 0; i < all.length; i++) {
    if (all[i][0] !== '_comagic_id' + sfx) continue;
    const p = all[i][1].split('.');
    const vid = +p[0];
    const sid = +p[1];
    if (p.length >= 2 && vid > 0 && sid > 0) return { visitor_id: vid, session_id: sid, key: key };
  }
  return null;
}

function pageInfo(referrer) {
  return { url: String(w.location.href), title: String(doc.title || ''), referrer: referrer };
}

const propsKey = () => '_cmg_p.' + S.siteKey;

function saveProps() {
  if (S.c) save('sessionStorage', propsKey(), { sid: S.c.session_id, p: S.props, h: S.has });
}

// apply takes a bootstrap or hit answer into the state and the cookies.
function apply(d) {
  const prev = S.c;
  const num = (v) => (typeof v === 'number' ? v : +v || 0);
  S.c = {
    site_key: String(d.site_key || S.siteKey),
    key: String(d.key || ''),
    uri: String(d.uri || ''),
    visitor_id: num(d.visitor_id),
    hit_id: num(d.hit_id),
    session_id: num(d.session_id),
    consultant_server_url: String(d.consultant_server_url || d.uri || ''),
    started: num(d.session_started_at),
  };
  if (d.device_type) S.device = String(d.device_type);
  if (hasOwn(d, 'operators_online')) S.ops = d.operators_online === true;
  if (d.settings) S.settings = d.settings;
  if (d.lead_rules) S.rules = d.lead_rules;
  if (!prev || prev.session_id !== S.c.session_id) {
    // A new session: what we knew about properties may be stale. Keep what
    // this page already set (it is about to be sent) and what this session
    // stored earlier in this tab.
    const st = load('sessionStorage', propsKey());
    const p = st && st.sid === S.c.session_id ? st : { p: {}, h: {} };
    if (prev) { S.props = {}; S.has = {}; }
    S.props = Object.assign(p.p || {}, S.props);
    S.has = Object.assign(p.h || {}, S.has);
  }
  saveProps();
  const sfx = String(d.cookie_suffix || '').replace(/[^A-Za-z0-9_-]/g, '');
  const c = S.c;
  setCookie('_comagic_id' + sfx, c.visitor_id + '.' + c.session_id + '.' + c.started);
  setCookie('_cmg_csst' + sfx, String(c.started));
  setCookie('_cmg_key' + sfx, S.siteKey + '.' + c.key);
  if (hooks.phones) hooks.phones(d);
}

function settle(ok) {
  const q = S.waiters;
  S.waiters = [];
  for (let i = 0; i < q.length; i++) {
    if (ok || S.dead || q[i].interactive) q[i].fn(ok);
    else S.waiters[S.waiters.length] = q[i];
  }
}

/** whenReady runs fn(ok) once the bootstrap has answered. Interactive calls do
 * not wait for bootstrap retries: they get ok=false after the first failure. */
export function whenReady(fn, interactive) {
  if (S.ready) return fn(true);
  if (S.dead || (interactive && S.retrying)) return fn(false);
  S.waiters[S.waiters.length] = { fn: fn, interactive: interactive };
}

/** boot sends the page view's single bootstrap request (once per page). */
export function boot() {
  if (S.started || !S.siteKey) return;
  if (!S.base) {
    warn('cannot find the server address: load cs.min.js from your comagicd host or push ["setHost", "//HOST"]');
    return;
  }
  S.started = true;
  const body = pageInfo(String(doc.referrer || ''));
  S.bootUrl = S.lastUrl = body.url;
  const st = stored();
  if (st) Object.assign(body, st);
  post(url('bootstrap'), body, true, (r) => {
    const d = r.data;
    if (d && d.success === true) {
      apply(d);
      S.ready = true;
      settle(true);
      return;
    }
    S.dead = true;
    warn('bootstrap failed (' + describe(r) + '); tracking is off on this page');
    settle(false);
  }, () => {
    if (!S.retrying) {
      S.retrying = true;
      settle(false);
    }
  });
}

function describe(r) {
  const e = r.data && r.data.error;
  if (e && e.message) return (e.code ? e.code + ': ' : '') + e.message;
  return r.status ? 'HTTP ' + r.status : 'network error';
}

/** send posts an API call with the visitor's credentials once bootstrapped.
 * cb(answer, raw) gets the parsed answer object (or an error object) and the
 * raw response. With anyway, the call goes out even without credentials. */
export function send(path, extra, interactive, cb, anyway) {
  whenReady((ok) => {
    if (!ok && !anyway) return cb(netError(), null);
    const body = copy(extra);
    if (S.c) {
      body.visitor_id = S.c.visitor_id;
      body.session_id = S.c.session_id;
      body.key = S.c.key;
      body.hit_id = S.c.hit_id;
    }
    post(url(path), body, !interactive, (r) => {
      const d = r.data;
      if (d && typeof d === 'object' && typeof d.success === 'boolean') return cb(d, r);
      cb(r.status ? { success: false, error: { code: 'internal', message: 'unexpected answer, HTTP ' + r.status } } : netError(), r);
    });
  }, interactive);
}

// serial runs property writes one after another so the server sees them in
// the order the page made them.
const writes = [];
let writing = false;
function serial(path, extra, done) {
  writes[writes.length] = [path, extra, done];
  if (!writing) pump();
}
function pump() {
  const j = writes.shift();
  writing = !!j;
  if (j) send(j[0], j[1], false, (d) => { j[2](d); pump(); });
}

const report = (what) => (d) => { if (!d.success) warn(what + ' failed: ' + describe({ data: d })); };

/** credentials returns the getCredentials() object (empty strings before bootstrap). */
export function credentials() {
  const c = S.c;
  const pick = (k) => (c ? c[k] : '');
  return {
    site_key: c ? c.site_key : S.siteKey,
    key: pick('key'),
    uri: pick('uri'),
    visitor_id: pick('visitor_id'),
    hit_id: pick('hit_id'),
    session_id: pick('session_id'),
    consultant_server_url: pick('consultant_server_url'),
  };
}

/** api holds the public non-UI methods, by their documented names. */
export const api = {
  getCredentials: credentials,
  getVisitorId: () => (S.c ? S.c.visitor_id : ''),
  getSessionId: () => (S.c ? S.c.session_id : ''),
  getOperatorStatus: () => S.ops === true,
  getDeviceType: () => S.device || guessDevice(),

  trackEvent(category, action, name, value) {
    if (!filled(category) || !filled(action)) {
      warn('trackEvent(category, action, name?, value?): category and action are required');
      return;
    }
    const b = { category: String(category), action: String(action) };
    if (filled(name)) b.name = String(name);
    if (filled(value)) b.value = String(value);
    send('event', b, false, report('trackEvent'));
  },

  addVisitorInfo(info, cb) {
    const b = {};
    const f = ['name', 'phone', 'email'];
    for (let i = 0; i < f.length; i++) if (info && filled(info[f[i]])) b[f[i]] = String(info[f[i]]);
    if (!b.name && !b.phone && !b.email) {
      warn('addVisitorInfo({name, phone, email}, callback?): at least one field is required');
      later(() => invoke(cb, { success: false, error: { code: 'invalid', message: 'name, phone or email is required' } }));
      return;
    }
    send('visitor_info', b, false, (d) => {
      if (typeof cb === 'function') invoke(cb, d);
      else report('addVisitorInfo')(d);
    });
  },

  setProperty(name, value) {
    if (!filled(name)) {
      warn('setProperty(name, value?): name is required');
      return;
    }
    name = String(name);
    const v = value === undefined || value === null || value === '' ? true : String(value);
    if (S.props[name] === v) return; // unchanged: nothing to send
    S.props[name] = v;
    S.has[name] = true;
    saveProps();
    const b = { name: name };
    if (v !== true) b.value = v;
    serial('property/set', b, (d) => {
      if (d.success) return;
      if (S.props[name] === v) { delete S.props[name]; delete S.has[name]; saveProps(); }
      report('setProperty')(d);
    });
  },

  hasProperty(name, cb) {
    if (!filled(name)) {
      warn('hasProperty(name, callback): name is required');
      return;
    }
    name = String(name);
    if (hasOwn(S.props, name) || hasOwn(S.has, name)) {
      const r = hasOwn(S.props, name) ? S.props[name] !== false : S.has[name];
      later(() => invoke(cb, { success: true, result: r }));
      return;
    }
    read('property/has', name, cb, (d) => {
      if (!hasOwn(S.props, name)) S.has[name] = d.result === true;
      if (d.result !== true) S.props[name] = false;
      saveProps();
      return { success: true, result: d.result === true };
    });
  },

  getProperty(name, cb) {
    if (!filled(name)) {
      warn('getProperty(name, callback): name is required');
      return;
    }
    name = String(name);
    if (hasOwn(S.props, name)) {
      const r = S.props[name];
      later(() => invoke(cb, { success: true, result: r }));
      return;
    }
    read('property/get', name, cb, (d) => {
      let r = d.result;
      if (r === undefined || r === null) r = false;
      if (r !== true && r !== false) r = String(r);
      S.props[name] = r;
      S.has[name] = r !== false;
      saveProps();
      return { success: true, result: r };
    });
  },

  deleteProperty(name) {
    if (!filled(name)) {
      warn('deleteProperty(name): name is required');
      return;
    }
    name = String(name);
    if (S.props[name] === false) return; // known to be absent
    S.props[name] = false;
    S.has[name] = false;
    saveProps();
    serial('property/delete', { name: name }, (d) => {
      if (d.success) return;
      if (S.props[name] === false) { delete S.props[name]; delete S.has[name]; saveProps(); }
      report('deleteProperty')(d);
    });
  },

  addOfflineRequest(req, cb) {
    if (!req || typeof req !== 'object') {
      warn('addOfflineRequest(request, callback?): request must be an object');
      later(() => invoke(cb, xhrLike({ success: false, error: { code: 'invalid', message: 'request must be an object' } }, null)));
      return;
    }
    const b = {};
    for (const k in req) {
      if (!hasOwn(req, k)) continue;
      const v = req[k];
      if (v !== undefined && typeof v !== 'function') b[k] = v;
    }
    send('offline_request', b, true, (d, r) => {
      if (typeof cb === 'function') invoke(cb, xhrLike(d, r));
      else report('addOfflineRequest')(d);
    }, true);
  },

  // getCaptcha(cb, {bg}) gives cb({key, url}) of a new captcha (its url
  // serves the image), or {key: '', url: ''} when none could be had.
  getCaptcha(cb, opts) {
    const bg = opts && opts.bg;
    send('captcha', filled(bg) ? { bg: String(bg) } : {}, true, (d) => {
      if (!d.success) report('getCaptcha')(d);
      invoke(cb, d.success ? { key: String(d.key || ''), url: String(d.url || '') } : { key: '', url: '' });
    }, true);
  },

  reinitTrackView() {
    const early = !S.ready;
    whenReady((ok) => {
      if (!ok) return;
      const here = String(w.location.href);
      if (early && here === S.bootUrl) return; // the bootstrap already counted this view
      const b = pageInfo(S.lastUrl);
      S.lastUrl = here;
      b.visitor_id = S.c.visitor_id;
      b.session_id = S.c.session_id;
      b.key = S.c.key;
      post(url('hit'), b, true, (r) => {
        if (r.data && r.data.success === true) apply(r.data);
        else warn('reinitTrackView failed: ' + describe(r));
      });
    }, false);
  },
};

/** leadAction records what the visitor did with a lead form (SPEC §10):
 * action is show, submit or cancel; cb gets the answer. */
export function leadAction(widget, action, data, cb) {
  send('lead_action', { widget: String(widget), action: String(action), data: copy(data) }, true, (d) => invoke(cb, d));
}

/** sendCallback posts a callback order (POST callback, interactive);
 * cb(answer, raw) as for every call (raw is null when it could not be sent). */
export function sendCallback(body, cb) {
  send('callback', body, true, cb);
}

// read performs a has/get property request, sharing one request between
// callers asking the same thing at the same time.
function read(path, name, cb, ok) {
  const k = path + '\n' + name;
  if (S.flight[k]) {
    S.flight[k].push(cb);
    return;
  }
  const cbs = (S.flight[k] = [cb]);
  send(path, { name: name }, true, (d) => {
    delete S.flight[k];
    const res = d.success ? ok(d) : { success: false, result: false, error: d.error };
    for (let i = 0; i < cbs.length; i++) invoke(cbs[i], res);
  });
}

// xhrLike builds the addOfflineRequest callback argument: the parsed answer
// ({success, result, error}) that also reads like a finished XMLHttpRequest.
function xhrLike(d, r) {
  const o = copy(d);
  const text = r && r.text ? r.text : encode(d);
  o.response = text;
  o.responseText = text;
  o.status = r ? r.status : 0;
  o.statusText = r ? r.statusText : '';
  o.readyState = 4;
  return o;
}

/** guessDevice classifies the browser before the server has said. */
export function guessDevice() {
  const ua = String((w.navigator && w.navigator.userAgent) || '');
  if (/iPad|Tablet|PlayBook|Silk|(Android(?!.*Mobile))/i.test(ua)) return 'tablet';
  if (/Mobi|iPhone|iPod|Android|Windows Phone|Opera Mini/i.test(ua)) return 'mobile';
  return 'desktop';
}
