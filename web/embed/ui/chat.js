// The visitor's side of the consultant chat (SPEC §7): one connection per tab
// to /ws/chat/<site_key> (long-polling POST /api/chat/<site_key>/poll when
// websockets cannot connect), the chat's state and event stream, history
// pages, and the message objects the consultant_chat widget hands to view
// controllers. Strings that came from people (text, names, file names) are
// HTML-escaped in those objects, because view controllers interpolate them
// with <%= %>; URLs are kept only when they are http(s).

import { escape } from './tpl.js';

const SOURCE = { operator: 'Оператор', visitor: 'Посетитель', system: 'Система' };
const PAGE = 20;
const BURST = 30; // frames sent at once (the server allows 40, and 40 per poll)
const own = Object.prototype.hasOwnProperty;
const now = () => Math.floor(Date.now() / 1000);
const warn = (m) => { try { console.warn('Comagic: ' + m); } catch (e) { /* no console */ } };

/** safeUrl returns u HTML-escaped when it is an http(s) URL, else ''. */
export const safeUrl = (u) => (/^https?:\/\//i.test(String(u || '')) ? escape(u) : '');

/** sizeInfo writes a file size for people: 512 Б, 3,4 КБ, 12 МБ. */
export function sizeInfo(n) {
  n = +n || 0;
  const u = ['Б', 'КБ', 'МБ', 'ГБ'];
  let i = 0;
  while (n >= 1024 && i < 3) { n /= 1024; i++; }
  return (i && n < 10 ? (Math.round(n * 10) / 10).toString().replace('.', ',') : Math.round(n)) + ' ' + u[i];
}

/** vcard turns an operator of the protocol into {name, position, avatar}, escaped. */
export const vcard = (o) => ({ name: escape(o && o.name), position: escape(o && o.position), avatar: safeUrl(o && o.avatar) });

/** toMessage turns an event frame (kinds message, file, system, invite) into
 * the message object of the widget API: {text, date, source, from, chat_id,
 * message_id, uid, sender, operator_info, kind} and, for files, fx_link,
 * fx_name, fx_size, fx_size_info, fx_type. */
export function toMessage(ev) {
  const sender = ev.kind === 'system' || !own.call(SOURCE, ev.sender) ? 'system' : ev.sender;
  const oi = vcard(ev.operator);
  const m = {
    text: escape(ev.text), date: +ev.date || now(), source: SOURCE[sender], from: SOURCE[sender],
    chat_id: ev.chat_id == null ? null : ev.chat_id, message_id: ev.message_id == null ? null : ev.message_id,
    uid: ev.uid || null, sender: sender, operator_info: oi, kind: ev.kind || 'message',
  };
  if (sender === 'operator' && oi.name) m.from = oi.name;
  const f = ev.kind === 'file' && ev.file;
  if (f && safeUrl(f.url)) {
    m.fx_link = safeUrl(f.url);
    m.fx_name = escape(f.name);
    m.fx_size = +f.size || 0;
    m.fx_size_info = sizeInfo(f.size);
    m.fx_type = escape(f.content_type);
  }
  return m;
}

/** visitorMessage is what sendChatMessage renders at once, before the server echoes it. */
export const visitorMessage = (text, uid, chatId) => ({
  text: escape(text), date: now(), source: SOURCE.visitor, from: SOURCE.visitor, chat_id: chatId, message_id: null,
  uid: uid, sender: 'visitor', operator_info: vcard(null), kind: 'message',
});

/** newUid makes a client message id. */
export function newUid() {
  let r = '';
  try {
    const a = new Uint32Array(3);
    crypto.getRandomValues(a);
    for (let i = 0; i < 3; i++) r += a[i].toString(36);
  } catch (e) {
    r = Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }
  return 'v' + Date.now().toString(36) + r;
}

/** Throttle calls send(v) at most once per ms: the first value at once,
 * later ones of the window once it ends (only the last). */
export function throttle(ms, send) {
  let last = -1e15;
  let timer = 0;
  let next;
  return (v) => {
    next = v;
    const wait = last + ms - Date.now();
    if (wait <= 0 && !timer) {
      last = Date.now();
      send(v);
    } else if (!timer) {
      timer = setTimeout(() => { timer = 0; last = Date.now(); send(next); }, wait);
    }
  };
}

/** History keeps the visitor's earlier messages, newest first, as getHistory
 * hands them out (a controller inserts each above the previous one). */
export class History {
  constructor() { this.buf = []; this.more = false; this.before = null; this.loaded = false; this.busy = false; }

  /** add takes a history reply (messages oldest first) into the buffer. */
  add(msgs, more, seen) {
    this.loaded = true;
    this.more = !!more;
    if (msgs.length) this.before = msgs[0].message_id;
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i];
      if (m.message_id == null || !seen[m.message_id]) {
        if (m.message_id != null) seen[m.message_id] = 1;
        this.buf.push(m);
      }
    }
  }

  has(initial) { return this.buf.length > 0 || (this.loaded ? this.more : !!initial); }

  /** take returns up to 20 messages, newest first, or false. */
  take() { return this.buf.length ? this.buf.splice(0, PAGE) : false; }

  /** wants reports whether the next page should be fetched now. */
  wants() { return this.loaded && this.more && !this.busy && this.buf.length < PAGE; }
}

// ---- transport ----

const post = (url, body, done) => {
  const x = new XMLHttpRequest();
  x.open('POST', url, true);
  if (typeof body === 'string') x.setRequestHeader('Content-Type', 'text/plain;charset=UTF-8');
  x.timeout = 45000;
  x.onloadend = () => {
    let d = null;
    try { d = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
    done(x.status, d);
  };
  x.send(body);
};

// Channel is the connection of this tab: a websocket, or long-polling once a
// websocket failed to connect twice in a row. Frames with an id are answered
// by a reply; those sent but unanswered when the connection drops are sent
// again (message, start… are idempotent), except mail, which fails.
class Channel {
  constructor(S, onFrame, pos) {
    this.S = S;
    this.onFrame = onFrame;
    this.pos = pos; // {chat_id, after}: where to resume
    this.q = []; // frames to send
    this.wait = {}; // id -> [frame, resolve, timer]
    this.n = 0;
    this.fails = 0; // websocket connects that failed in a row
    this.tries = 0; // reconnects since the last good frame
    this.polling = typeof WebSocket !== 'function';
    this.ws = null;
    this.up = false;
    this.fresh = false; // the next state frame starts a new connection
    this.stopped = false;
    this.inflight = 0;
    this.tokens = BURST; // the server drops frames over 20/s (burst 40)
    this.at = Date.now();
    this.later = 0;
  }

  // token takes a send token from the bucket (BURST, refilled 15/s).
  token() {
    const now = Date.now();
    this.tokens = Math.min(BURST, this.tokens + (now - this.at) * 0.015);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  creds() {
    const c = this.S.c;
    return { visitor_id: c.visitor_id, session_id: c.session_id, key: c.key };
  }

  url(p) { return this.S.base + p + encodeURIComponent(this.S.siteKey); }

  connect() {
    if (this.stopped) return;
    this.fresh = true;
    if (this.polling) { this.tag = ''; this.poll(); return; }
    const c = this.creds();
    let u = this.url('/ws/chat/').replace(/^http/, 'ws') + '?visitor_id=' + c.visitor_id + '&session_id=' + c.session_id + '&key=' + encodeURIComponent(c.key);
    if (this.pos.chat_id) u += '&chat_id=' + this.pos.chat_id + '&after=' + this.pos.after;
    let ws;
    let opened = false;
    try { ws = new WebSocket(u); } catch (e) { this.dropped(false); return; }
    this.ws = ws;
    ws.onopen = () => { opened = true; this.fails = 0; this.up = true; this.flush(); };
    ws.onmessage = (e) => {
      let f = null;
      try { f = JSON.parse(e.data); } catch (x) { /* not JSON */ }
      if (f && typeof f === 'object') { this.tries = 0; this.onFrame(f); }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.up = false;
      this.dropped(opened);
    };
  }

  dropped(opened) {
    if (!opened && ++this.fails >= 2) this.polling = true;
    const again = [];
    for (const id in this.wait) {
      const w = this.wait[id];
      if (w[0].type === 'mail') this.answer({ id: w[0].id, ok: false, error: { code: 'unavailable', message: 'connection lost' } });
      else if (this.q.indexOf(w[0]) < 0) again.push(w[0]);
    }
    this.q = again.concat(this.q);
    this.retry();
  }

  retry() {
    if (this.stopped) return;
    const d = Math.min(30000, 500 * Math.pow(2, this.tries++)) * (0.75 + Math.random() / 2);
    setTimeout(() => this.connect(), d);
  }

  // poll runs the long-polling loop: each answer carries the replies to the
  // frames sent and what is new after (chat_id, after); the next poll goes
  // out at once. The state frame comes again only when it changed from the
  // one state_tag names.
  poll() {
    if (this.stopped) return;
    this.req(this.q.splice(0, BURST), true);
  }

  req(frames, loop) {
    const b = this.creds();
    const p = this.pos;
    b.frames = frames;
    if (p.chat_id) { b.chat_id = p.chat_id; b.after = p.after; }
    if (this.tag) b.state_tag = this.tag;
    if (!loop) this.inflight++;
    post(this.url('/api/chat/') + '/poll', JSON.stringify(b), (st, d) => {
      if (!loop) { this.inflight--; setTimeout(() => this.flush(), 0); }
      if (st === 200 && d && Array.isArray(d.frames)) {
        this.up = true;
        this.tries = 0;
        this.tag = d.state_tag || this.tag;
        for (let i = 0; i < d.frames.length; i++) if (d.frames[i] && typeof d.frames[i] === 'object') this.onFrame(d.frames[i]);
        if (d.chat_id && d.chat_id !== p.chat_id) { p.chat_id = d.chat_id; p.after = +d.after || 0; }
        else if (d.chat_id && d.after > p.after) p.after = d.after;
        if (loop) this.poll();
        return;
      }
      this.up = false;
      if (st >= 400 && st < 500 && st !== 408 && st !== 429) {
        this.stop('the chat server refused the visitor (' + ((d && d.error && d.error.message) || 'HTTP ' + st) + ')');
        return;
      }
      this.q = frames.filter((f) => f.type !== 'typing').concat(this.q);
      if (loop) {
        this.tag = '';
        this.fresh = true;
        this.retry();
      }
    });
  }

  stop(why) {
    if (why) warn(why);
    this.stopped = true;
    for (const id in this.wait) this.answer({ id: +id, ok: false, error: { code: 'unavailable', message: why || 'stopped' } });
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  }

  flush() {
    if (!this.up || !this.q.length) return;
    if (this.ws) {
      while (this.q.length && this.token()) this.ws.send(JSON.stringify(this.q.shift()));
      if (this.q.length && !this.later) this.later = setTimeout(() => { this.later = 0; this.flush(); }, 100);
    } else if (this.polling && this.inflight < 2) this.req(this.q.splice(0, BURST), false);
  }

  /** send sends a command; the promise resolves with its reply frame. */
  send(frame) {
    return new Promise((resolve) => {
      if (this.stopped) return resolve({ ok: false, error: { code: 'unavailable', message: 'the chat is not connected' } });
      frame.id = ++this.n;
      const t = setTimeout(() => this.answer({ id: frame.id, ok: false, error: { code: 'unavailable', message: 'no answer' } }), 30000);
      this.wait[frame.id] = [frame, resolve, t];
      this.q.push(frame);
      this.flush();
    });
  }

  /** cast sends a frame without a reply, only while connected (typing). */
  cast(frame) {
    if (!this.up) return;
    this.q.push(frame);
    this.flush();
  }

  /** answer settles the command of a reply frame; false when none waits. */
  answer(f) {
    const w = this.wait[f.id];
    if (!w) return false;
    delete this.wait[f.id];
    const i = this.q.indexOf(w[0]);
    if (i >= 0) this.q.splice(i, 1);
    clearTimeout(w[2]);
    w[1](f);
    return true;
  }
}

// ---- the chat of this page ----

/**
 * createChat returns the chat of this page (one per page): it connects when
 * the first consultant_chat widget attaches and fires the widget API's events
 * on every attached widget.
 */
export function createChat(env) {
  const S = env.S;
  const store = env.storage;
  const posKey = '_cmg_chat.' + S.siteKey;
  let pos = { chat_id: null, after: 0 };
  try {
    const p = JSON.parse(sessionStorage.getItem(posKey) || 'null');
    if (p && p.chat_id > 0) pos = { chat_id: p.chat_id, after: +p.after || 0 };
  } catch (e) { /* no storage */ }
  const savePos = () => { try { sessionStorage.setItem(posKey, JSON.stringify(pos)); } catch (e) { /* no storage */ } };

  const st = {
    state: 'available', chat_id: null, operator: null, rating: null, available: S.ops === true,
    card: { name: '', email: [], phone: [] }, required: [], file: false, maxFile: 0, hasHistory: false,
  };
  const seen = {}; // message_id -> 1: events already handled
  const mine = {}; // uid -> the message object sendChatMessage returned
  const log = []; // messages shown so far, in order (for print)
  const hist = new History();
  const widgets = [];
  let loaded = false; // the first history page arrived
  let hold = null; // events held while history is being fetched
  let catching = false;
  let lastChat = null;
  let ch = null;

  const fire = (name, arg) => {
    const l = widgets.slice();
    for (let i = 0; i < l.length; i++) l[i].fire(name, arg);
  };
  const unread = () => +store.getItem('_cmg_unread') || 0;

  function setAvailable(v) {
    v = v === true;
    S.ops = v;
    if (v !== st.available) {
      st.available = v;
      fire('chatavailabilitychange', v);
    }
  }

  function setOperator(o) {
    const prev = st.operator;
    st.operator = o && typeof o === 'object' ? vcard(o) : null;
    const a = st.operator;
    if (a && (!prev || prev.name !== a.name || prev.avatar !== a.avatar || prev.position !== a.position)) fire('operatorjoined', Object.assign({}, a));
    else if (!a && prev) fire('operatorleave', { name: null, position: null, avatar: null });
  }

  function setRating(r) {
    r = r > 0 ? +r : null;
    if (r !== st.rating) {
      st.rating = r;
      fire('ratingchange', r);
    }
  }

  // setCard takes the visitor card of the server; Comagic.visitorCard reads
  // it from Comagic.storage. Fields now known are no longer required.
  function setCard(c) {
    c = c || {};
    const arr = (a) => (Array.isArray(a) ? a.map(String).slice(0, 5) : []);
    st.card = { name: String(c.name || ''), email: arr(c.email), phone: arr(c.phone) };
    const old = store.getItem('visitor_card') || {};
    store.setItem('visitor_card', Object.assign(old, { name: st.card.name || old.name || '', emails: st.card.email, phones: st.card.phone }));
    st.required = st.required.filter((k) => !(k === 'name' ? st.card.name : (st.card[k] || []).length));
  }

  function show(m) {
    log.push(m);
    if (m.chat_id) lastChat = m.chat_id;
  }

  function onState(f) {
    const fresh = ch.fresh;
    ch.fresh = false;
    setAvailable(f.available);
    const prev = st.state;
    st.chat_id = f.chat_id || null;
    if (st.chat_id) lastChat = st.chat_id;
    st.required = Array.isArray(f.required_info) ? f.required_info.slice() : [];
    setCard(f.visitor_card);
    st.file = f.file_transfer === true;
    st.maxFile = +f.max_file_bytes || 0;
    st.hasHistory = f.has_history === true;
    setOperator(f.operator);
    setRating(f.rating);
    if (fresh && !catching && !loaded) catchUp();
    // The server sends the events of a chat the page did not follow yet
    // from its start.
    if (st.chat_id && st.chat_id !== pos.chat_id) {
      pos.chat_id = st.chat_id;
      pos.after = 0;
      savePos();
    }
    st.state = f.state || 'available';
    if (st.state !== prev) fire('statechange', st.state);
  }

  // known reports whether message m was handled already (its id was seen,
  // or it is the echo of a message this tab sent: that one learns its ids).
  function known(m) {
    const id = m.message_id;
    if (id != null && seen[id]) return true;
    if (id != null) seen[id] = 1;
    const sent = m.uid && mine[m.uid];
    if (!sent) return false;
    sent.message_id = id;
    sent.chat_id = m.chat_id;
    return true;
  }

  // catchUp fetches the latest history page once the page is connected:
  // the open chat's messages become showhistory and the older ones the
  // first getHistory page. Events arriving meanwhile wait, so the order holds
  // and nothing is fired twice.
  function catchUp() {
    catching = true;
    if (!hold) hold = [];
    ch.send({ type: 'history' }).then((r) => {
      catching = false;
      if (r.ok) {
        loaded = true;
        const cur = [];
        const rest = [];
        const raw = Array.isArray(r.messages) ? r.messages : [];
        for (let i = 0; i < raw.length; i++) {
          const m = toMessage(raw[i]);
          (st.chat_id && m.chat_id === st.chat_id ? cur : rest).push(m);
        }
        hist.add(rest, r.more, seen);
        if (!rest.length && cur.length) hist.before = cur[0].message_id;
        const shown = cur.filter((m) => !known(m));
        for (let i = 0; i < shown.length; i++) show(shown[i]);
        if (shown.length) fire('showhistory', shown);
        prefetch();
      }
      const held = hold || [];
      hold = null;
      for (let i = 0; i < held.length; i++) onEvent(held[i]);
    });
  }

  function prefetch() {
    if (!hist.wants()) return;
    hist.busy = true;
    ch.send({ type: 'history', before: hist.before }).then((r) => {
      hist.busy = false;
      if (!r.ok) return;
      hist.add((r.messages || []).map(toMessage), r.more, seen);
      prefetch();
    });
  }

  function onEvent(ev) {
    if (hold) { hold.push(ev); return; }
    if (ev.chat_id === pos.chat_id && ev.seq > pos.after) { pos.after = ev.seq; savePos(); }
    const k = ev.kind;
    const m = toMessage(ev);
    if (known(m)) return;
    if (k === 'message' || k === 'file' || k === 'system' || k === 'invite') {
      show(m);
      // Operator messages count as unread until a controller clears them
      // (the vendor's do when the chat is visible).
      // The count is the visitor's, shared by the tabs that all receive the
      // message: the highest message id counted keeps it from counting twice.
      if (m.sender === 'operator' && +m.message_id > (+store.getItem('_cmg_unread_id') || 0)) {
        store.setItem('_cmg_unread_id', +m.message_id);
        store.setItem('_cmg_unread', unread() + 1);
      }
      if (k === 'invite') {
        m.invite_message = m.text;
        fire('invite', m);
      } else fire('sendmessage', m);
    } else if (k === 'join') setOperator(ev.operator);
    else if (k === 'leave' || k === 'close') setOperator(null);
    else if (k === 'rating') setRating(ev.data && ev.data.rating);
    else if (k === 'retention_action') {
      const way = ev.data && ev.data.alternate_communication_way;
      if (ev.chat_id === st.chat_id && way) fire('showchatretentionaction', { alternate_communication_way: String(way) });
    }
  }

  function onFrame(f) {
    switch (f.type) {
      case 'state': return onState(f);
      case 'event': return onEvent(f);
      case 'typing': return fire('chattyping', {});
      case 'availability': return setAvailable(f.available);
      case 'reply': return ch.answer(f);
      case 'error': return warn('chat: ' + ((f.error && f.error.message) || 'error'));
    }
  }

  const typing = throttle(500, (text) => ch.cast({ type: 'typing', text: text }));

  const chat = {
    st: st,
    log: log,
    hist: hist,
    lastChat: () => lastChat,
    unread: unread,
    clearUnread() { store.setItem('_cmg_unread', 0); },
    rated: setRating,
    carded: setCard,

    /** attach makes widget w receive the chat's events; the first connects. */
    attach(w) {
      widgets.push(w);
      w.on('destroy', () => { const i = widgets.indexOf(w); if (i >= 0) widgets.splice(i, 1); });
      if (!ch) {
        ch = new Channel(S, onFrame, pos);
        setTimeout(() => ch.connect(), 0);
        return;
      }
      // A widget created later gets what the others already know.
      setTimeout(() => {
        if (st.operator) w.fire('operatorjoined', Object.assign({}, st.operator));
        const cur = log.filter((m) => m.chat_id && m.chat_id === st.chat_id);
        if (cur.length) w.fire('showhistory', cur);
        if (st.state !== 'available') w.fire('statechange', st.state);
      }, 0);
    },

    /** send sends a command and resolves with its reply ({ok, …}). */
    send(frame) {
      if (!ch) { ch = new Channel(S, onFrame, pos); ch.connect(); }
      return ch.send(frame);
    },

    /** message sends the visitor's text; returns the message object shown at once. */
    message(text, group, done) {
      const uid = newUid();
      const m = visitorMessage(text, uid, st.chat_id);
      mine[uid] = m;
      show(m);
      const f = { type: 'message', uid: uid, text: text };
      if (group) f.group_id = +group;
      chat.send(f).then((r) => {
        if (r.ok) {
          m.chat_id = r.chat_id;
          m.message_id = r.message_id;
          if (r.message_id != null) seen[r.message_id] = 1;
          if (r.date) m.date = r.date;
        }
        done(m, r);
      });
      return m;
    },

    typing(text) { if (ch) typing(String(text == null ? '' : text).slice(0, 1000)); },

    /** history hands out the next page of earlier messages (newest first) or false. */
    history() {
      const page = hist.take();
      prefetch();
      return page;
    },

    /** upload sends a file to the open chat; done(ok, error). */
    upload(file, done) {
      const fd = new FormData();
      const c = S.c;
      fd.append('visitor_id', c.visitor_id);
      fd.append('session_id', c.session_id);
      fd.append('key', c.key);
      fd.append('file', file, file.name);
      post(S.base + '/api/chat/' + encodeURIComponent(S.siteKey) + '/files', fd, (code, d) => {
        if (code === 200 && d && d.success && d.event) {
          onEvent(Object.assign({ type: 'event' }, d.event));
          return done(true);
        }
        done(false, (d && d.error) || { code: code ? 'internal' : 'network', message: 'HTTP ' + code });
      });
    },
  };
  return chat;
}
