// Lead generators (SPEC §10): the bootstrap's lead rules decide when a lead
// form shows; a form submitted or cancelled in one tab hides in the others.
//
// What the rules need across pages and tabs lives in localStorage: per
// session the client time it started, its pages, its source and the rules
// fired; per visitor the rules fired; in each scope whether a lead form was
// handled (submitted or cancelled), after which no rule of that scope fires.

const LEADS = ['call_generator', 'offline_message_generator', 'personal_form'];

function area() {
  try {
    const s = window.localStorage;
    s.setItem('_cmg_t', '1');
    s.removeItem('_cmg_t');
    return s;
  } catch (e) {
    return null;
  }
}

const mem = {};

function load(k) {
  const s = area();
  let v = null;
  try { v = JSON.parse(s ? s.getItem(k) : mem[k] || 'null'); } catch (e) { /* bad value */ }
  return v && typeof v === 'object' ? v : null;
}

function store(k, v) {
  const s = area();
  const raw = JSON.stringify(v);
  try {
    if (s) return s.setItem(k, raw);
  } catch (e) { /* quota: memory */ }
  mem[k] = raw;
}

/** source is the visit's utm_source and referrer domain, as the chat's
 * auto-invite rules see them. */
function source() {
  let u = '';
  let r = '';
  try { u = new URL(location.href).searchParams.get('utm_source') || ''; } catch (e) { /* no URL */ }
  try {
    const h = document.referrer ? new URL(document.referrer).hostname : '';
    if (h && h !== location.hostname) r = h.replace(/^www\./, '');
  } catch (e) { /* bad referrer */ }
  return { u: u, r: r };
}

/**
 * startLeads evaluates the lead rules of the bootstrap answer on this page and
 * shows a form through display(vc) when one holds; ready(vc) tells whether
 * the page prepared view controller vc. registry holds the live widgets.
 */
export function startLeads(env, registry, ready, display) {
  const S = env.S;
  const c = S.c;
  if (!c) return null;
  const sk = '_cmg_lead_s.' + S.siteKey;
  const vk = '_cmg_lead_v.' + S.siteKey;
  const hk = '_cmg_lead_h.' + S.siteKey;
  const now = Date.now();

  // The session's record: a new session starts a new one. Its start is taken
  // on this clock, so a skewed clock does not move the time on site.
  let ses = load(sk);
  if (!ses || ses.sid !== c.session_id) {
    const t0 = c.started > 0 ? Math.min(now, c.started * 1000) : now;
    ses = { sid: c.session_id, t0: t0, views: 0, src: source(), fired: {}, done: 0 };
  }
  ses.views++;
  store(sk, ses);
  let vis = load(vk);
  if (!vis || vis.vid !== c.visitor_id) store(vk, (vis = { vid: c.visitor_id, fired: {}, done: 0 }));

  let pageStart = now;
  try { if (performance.timeOrigin > 0 && performance.timeOrigin <= now) pageStart = performance.timeOrigin; } catch (e) { /* old browser */ }

  const scope = (r) => (r.once_per === 'visitor' ? [vk, vis] : [sk, ses]);
  const blocked = (r) => {
    const s = load(scope(r)[0]) || scope(r)[1];
    return !!s.done || !!(s.fired && s.fired[r.id]);
  };
  const visible = () => LEADS.some((n) => registry[n] && registry[n].isVisible());

  const all = Array.isArray(S.rules) ? S.rules : [];
  const rules = all.filter((r) => {
    if (!r || LEADS.indexOf(r.widget) < 0 || !ready(r.widget)) return false;
    if (r.url_pattern && String(location.href).indexOf(r.url_pattern) < 0) return false;
    if (r.source) {
      const want = String(r.source).toLowerCase();
      if (want !== String(ses.src.u).toLowerCase() && want !== String(ses.src.r).toLowerCase()) return false;
    }
    return ses.views >= (+r.min_page_views || 0);
  });

  const timers = [];
  // Exit intent: rules with on_exit wait, once their times have passed, for
  // the pointer to leave through the top of the window, or on a touch screen
  // for a fast scroll back up (a quarter of the screen within 300 ms).
  let waiting = [];
  let listening = false;
  const exit = () => {
    const w = waiting;
    waiting = [];
    w.forEach((r) => check(r, true));
  };
  const arm = (r) => {
    waiting.push(r);
    if (listening) return;
    listening = true;
    document.addEventListener('mouseout', (e) => {
      if (!e.relatedTarget && e.clientY <= 0) exit();
    });
    let coarse = false;
    try { coarse = window.matchMedia('(pointer: coarse)').matches; } catch (e) { /* old browser */ }
    if (!coarse) return;
    let lastY = window.scrollY;
    let lastT = Date.now();
    let up = 0;
    window.addEventListener('scroll', () => {
      const y = window.scrollY;
      const t = Date.now();
      up = y < lastY ? (t - lastT < 300 ? up : 0) + (lastY - y) : 0;
      lastY = y;
      lastT = t;
      if (up > window.innerHeight / 4) { up = 0; exit(); }
    }, { passive: true });
  };
  const check = (r, exiting) => {
    if (blocked(r)) return;
    if (r.on_exit && !exiting) { arm(r); return; }
    if (visible()) {
      if (r.on_exit) arm(r);
      else timers.push(setTimeout(() => check(r), 1000));
      return;
    }
    const [k, s0] = scope(r);
    const s = load(k) || s0;
    s.fired = s.fired || {};
    s.fired[r.id] = 1;
    store(k, s);
    display(r.widget);
  };
  rules.forEach((r) => {
    const t = Date.now();
    const wait = Math.max(0, (+r.min_time_on_page_s || 0) * 1000 - (t - pageStart), (+r.min_time_on_site_s || 0) * 1000 - (t - ses.t0));
    timers.push(setTimeout(() => check(r), wait));
  });

  // A form handled in another tab of this visitor hides here.
  window.addEventListener('storage', (e) => {
    if (e.key !== hk || !e.newValue) return;
    let h = null;
    try { h = JSON.parse(e.newValue); } catch (x) { return; }
    if (!h || h.vid !== c.visitor_id) return;
    const w = registry[h.widget];
    if (!w || !w.el) return;
    w.fire('leadhide', w);
    if (w.isVisible()) w.hide();
  });

  return {
    /** handled records a submit or cancel of a lead form: no rule of its
     * scope fires any more, and the other tabs hide the form. */
    handled(widget) {
      const s = load(sk) || ses;
      if (s.sid === c.session_id) { s.done = 1; store(sk, s); }
      const v = load(vk) || vis;
      if (all.some((r) => r && r.widget === widget && r.once_per === 'visitor') && v.vid === c.visitor_id) { v.done = 1; store(vk, v); }
      store(hk, { vid: c.visitor_id, widget: widget, at: Date.now(), n: Math.random() });
    },
    stop() { timers.forEach(clearTimeout); waiting = []; },
  };
}
