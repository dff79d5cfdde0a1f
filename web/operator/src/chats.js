// The chats screen: the queue of waiting chats, the operator's open chats as
// tabs, the conversation with its history, the visitor's live draft, the
// composer (text and files), transfer and close, and the visitor's rating.
// Everything follows the operator channel of api/asyncapi.yaml: events are
// kept per chat by seq, so replays after a reconnect never double anything.

import { h, fill, uid, clock, duration, toast } from './dom.js';
import { t, errText, units } from './i18n.js';
import { app, on, emit, siteName } from './state.js';
import * as api from './api.js';
import * as alert from './alert.js';
import { showCard } from './card.js';
import { openTransfer } from './transfer.js';
import { icon } from './icons.js';
import { eventNode, stars } from './events.js';

/** queue: chat id → chat (state queued), oldest first by created_at. */
const queue = new Map();
/** chats: chat id → the operator's chat (see newChat). */
const chats = new Map();
/** order is the order of the tabs. */
let order = [];
let active = 0;
let showQueue = false;
let cardOpen = false;
let el = null; // the screen's elements

function newChat(c) {
  return {
    c,
    events: new Map(), // seq → event
    maxSeq: 0,
    oldest: 0, // smallest message_id loaded (history paging)
    more: false,
    loaded: false,
    draft: '',
    unread: 0,
    pending: new Map(), // uid → {text, state: sending|failed, err}
    uploads: [], // file names being uploaded
    pane: null,
    typedAt: 0,
    typingTimer: 0,
  };
}

/** title is how a chat's visitor is named. */
function visitorName(c) {
  return (c.visitor && c.visitor.name) || t('chat.visitor', c.visitor_id);
}

// ---- frames -------------------------------------------------------------

on('frame', (f) => {
  switch (f.type) {
    case 'hello': return onHello(f);
    case 'chat': return onChat(f.chat, false);
    case 'event': return onEvent(f, false);
    case 'typing': return onDraft(f);
    case 'visitor': return onVisitorEdited(f);
    case 'reply': return undefined;
    default: return undefined;
  }
});

on('opened', () => {
  // Resend what a lost connection did not confirm (idempotent by uid).
  for (const ch of chats.values()) {
    for (const [u, p] of ch.pending) if (p.state === 'sending') sendPending(ch, u);
  }
});

// Another operator edited a visitor's card: when this workstation shows a
// chat of that visitor, it reads the new contacts and shows them.
async function onVisitorEdited(f) {
  const mine = [...chats.values()].map((ch) => ch.c).concat([...queue.values()])
    .some((c) => c.site_id === f.site_id && c.visitor_id === f.visitor_id);
  if (!mine) return;
  try {
    const r = await api.call('GET', '/api/operator/visitors/' + encodeURIComponent(f.visitor_id) + api.query({ site_id: f.site_id }));
    if (r && r.visitor) emit('visitor', r.visitor);
  } catch (e) { /* the next reload shows it */ }
}

// The card was edited: the chats of that visitor show the new name.
on('visitor', (v) => {
  for (const c of [...chats.values()].map((ch) => ch.c).concat([...queue.values()])) {
    if (c.site_id === v.site_id && c.visitor_id === v.visitor_id) c.visitor = { name: v.name, email: v.emails, phone: v.phones };
  }
  render();
});

// Coming back to the chats screen (or the tab) reads the chat shown.
function seenActive() {
  const ch = chats.get(active);
  if (ch && ch.unread && app.view === 'chats' && !document.hidden) {
    ch.unread = 0;
    render();
  }
}
on('view', seenActive);
document.addEventListener('visibilitychange', seenActive);

function onHello(f) {
  const held = new Set();
  for (const c of f.chats || []) {
    held.add(c.id);
    let ch = chats.get(c.id);
    if (!ch) {
      ch = newChat(c);
      chats.set(c.id, ch);
      order.push(c.id);
      loadHistory(ch);
    } else {
      ch.c = c;
      if (ch.maxSeq < c.last_seq) syncChat(ch);
    }
  }
  // Chats that are no longer the operator's (transferred or closed while the
  // connection was down) leave, except closed ones shown with their rating.
  for (const id of order.slice()) {
    const ch = chats.get(id);
    if (!held.has(id) && ch.c.state !== 'closed') dropChat(id);
  }
  const before = new Set(queue.keys());
  queue.clear();
  for (const c of f.queue || []) queue.set(c.id, c);
  const fresh = [...queue.values()].filter((c) => !before.has(c.id));
  if (fresh.length) attention(fresh[0], 'queue');
  if (!active && order.length) active = order[0];
  render();
}

function onChat(c, fromReply) {
  if (!c || !c.id) return;
  const mine = app.me && c.employee_id === app.me.id;
  if (c.state === 'queued') {
    const isNew = !queue.has(c.id);
    queue.set(c.id, c);
    if (isNew) attention(c, 'queue');
  } else {
    queue.delete(c.id);
  }
  let ch = chats.get(c.id);
  if (mine && (c.state === 'active' || c.state === 'invite')) {
    if (!ch) {
      ch = newChat(c);
      ch.loaded = true; // the server sends its events from seq 1
      chats.set(c.id, ch);
      order.push(c.id);
      if (!active || !chats.has(active)) active = c.id;
      if (!fromReply) attention(c, 'assigned');
    }
    ch.c = c;
  } else if (ch) {
    if (c.state === 'closed') {
      ch.c = c;
      ch.draft = '';
    } else {
      handedOver(c.id); // transferred away (or back to a queue)
    }
  }
  render();
}

function onEvent(ev, fromHistory) {
  const ch = chats.get(ev.chat_id);
  if (!ch || ch.events.has(ev.seq)) return;
  if (!fromHistory && ch.loaded && ch.maxSeq && ev.seq > ch.maxSeq + 1) {
    // A gap: ask for what is missing; the events come again in order.
    syncChat(ch);
    return;
  }
  ch.events.set(ev.seq, ev);
  if (ev.seq > ch.maxSeq) ch.maxSeq = ev.seq;
  if (!ch.oldest || ev.message_id < ch.oldest) ch.oldest = ev.message_id;
  if (ev.uid && ev.sender === 'operator') ch.pending.delete(ev.uid);
  if (ev.kind === 'rating' && ev.data && ev.data.rating) ch.c.rating = ev.data.rating;
  if (!fromHistory && ev.sender === 'visitor' && (ev.kind === 'message' || ev.kind === 'file')) {
    ch.draft = '';
    ch.lastVisitorText = ev.text;
    ch.c.last_text = ev.text;
    if (ev.chat_id !== active || document.hidden || app.view !== 'chats') {
      ch.unread++;
      attention(ch.c, 'message', ev.text);
    }
  }
  if (fromHistory) return;
  renderTabs();
  if (ev.chat_id === active) renderPane(ch);
}

function onDraft(f) {
  const ch = chats.get(f.chat_id);
  if (!ch) return;
  ch.draft = typeof f.text === 'string' ? f.text : '';
  // A late draft of the message just sent is no draft any more.
  if (ch.draft && ch.lastVisitorText && ch.draft.trim() === ch.lastVisitorText.trim()) ch.draft = '';
  renderQueue();
  if (f.chat_id === active && ch.pane) renderDraft(ch);
}

function syncChat(ch) {
  app.conn.call({ type: 'sync', chat_id: ch.c.id, after: ch.maxSeq });
}

async function loadHistory(ch) {
  const q = { type: 'history', chat_id: ch.c.id };
  if (ch.oldest) q.before = ch.oldest;
  const r = await app.conn.call(q);
  if (!r.ok) {
    if (!ch.loaded) ch.loaded = true;
    return;
  }
  for (const ev of r.messages || []) onEvent(ev, true);
  ch.more = !!r.more;
  ch.loaded = true;
  if (ch.c.id === active) renderPane(ch, true);
}

/** handedOver drops a chat that is no longer the operator's, once. */
function handedOver(id) {
  if (!chats.has(id)) return;
  toast(t('chat.transferred', id));
  dropChat(id);
}

function dropChat(id) {
  const ch = chats.get(id);
  if (ch && ch.pane) ch.pane.root.remove();
  chats.delete(id);
  const i = order.indexOf(id);
  order = order.filter((x) => x !== id);
  if (active === id) active = order[Math.min(i, order.length - 1)] || 0;
  render();
}

// ---- attention ----------------------------------------------------------

function attention(c, why, text) {
  alert.chime();
  const title = why === 'message' ? t('chat.newMessage') : t('queue.notify');
  const body = visitorName(c) + (text || c.last_text ? ': ' + (text || c.last_text) : '');
  alert.notify(title, body, 'chat-' + c.id, () => {
    emit('navigate', 'chats');
    if (chats.has(c.id)) select(c.id);
  });
  emit('attention');
}

// ---- commands -----------------------------------------------------------

async function take(id) {
  const r = await app.conn.call({ type: 'take', chat_id: id });
  if (!r.ok) {
    toast(r.error && r.error.code === 'conflict' ? t('queue.taken') : t('common.error', errText(r.error)), 'error');
    if (r.error && r.error.code === 'conflict') { queue.delete(id); render(); }
    return;
  }
  showQueue = false;
  onChat(r.chat, true);
  select(id);
}

/** takeFirst takes the oldest waiting chat (Alt+T). */
export function takeFirst() {
  const first = sortedQueue()[0];
  if (first) take(first.id);
}

function sendText(ch) {
  const ta = ch.pane.text;
  const text = ta.value.trim();
  if (!text || ch.c.state === 'closed') return;
  ta.value = '';
  ta.style.height = '';
  ch.sentAt = Date.now();
  const u = uid();
  ch.pending.set(u, { text, state: 'sending' });
  sendPending(ch, u);
  sendTyping(ch, '', true);
  renderPane(ch);
}

async function sendPending(ch, u) {
  const p = ch.pending.get(u);
  if (!p) return;
  p.state = 'sending';
  const r = await app.conn.call({ type: 'message', chat_id: ch.c.id, uid: u, text: p.text });
  if (!ch.pending.has(u)) return;
  if (r.ok) {
    // The event normally arrives too; until it does the text stays as sending.
    return;
  }
  if (r.error && r.error.code === 'unavailable' && app.conn.state !== 'connected') return; // resent on reconnect
  p.state = 'failed';
  p.err = errText(r.error);
  if (ch.c.id === active) renderPane(ch);
}

function sendTyping(ch, text, now) {
  clearTimeout(ch.typingTimer);
  const go = () => {
    ch.typedAt = Date.now();
    app.conn.send({ type: 'typing', chat_id: ch.c.id, text: text.slice(0, 1000) });
  };
  if (now || Date.now() - ch.typedAt > 1500) go();
  else ch.typingTimer = setTimeout(go, 1500);
}

async function sendFiles(ch, files) {
  for (const file of files) {
    ch.uploads.push(file.name);
    renderPane(ch);
    try {
      const r = await api.sendFile(ch.c.id, file);
      if (r.event) onEvent(r.event, false);
    } catch (e) {
      toast(t('chat.fileFailed', errText(e)), 'error');
    }
    ch.uploads.splice(ch.uploads.indexOf(file.name), 1);
    if (ch.c.id === active) renderPane(ch);
  }
}

async function closeChat(ch) {
  const r = await app.conn.call({ type: 'close', chat_id: ch.c.id });
  if (!r.ok) toast(t('common.error', errText(r.error)), 'error');
}

/** select makes chat id the active tab. */
export function select(id) {
  if (!chats.has(id)) return;
  active = id;
  showQueue = false;
  const ch = chats.get(id);
  ch.unread = 0;
  render();
  if (ch.pane && ch.c.state !== 'closed' && window.matchMedia('(min-width: 760px)').matches) ch.pane.text.focus();
}

/** step switches to the previous (-1) or next (+1) open chat. */
export function step(d) {
  if (!order.length) return;
  const i = order.indexOf(active);
  select(order[(i + d + order.length) % order.length]);
}

// ---- rendering ----------------------------------------------------------

/** same reports whether what a part of the screen shows is unchanged since
 * it was last drawn (so it is not rebuilt under the operator's pointer). */
function same(part, sig) {
  if (el.sig[part] === sig) return true;
  el.sig[part] = sig;
  return false;
}

function sortedQueue() {
  return [...queue.values()].sort((a, b) => a.created_at - b.created_at || a.id - b.id);
}

/** queueSize is the number of waiting chats (the badge of the nav). */
export function queueSize() { return queue.size; }
/** unreadCount is the number of unread visitor messages in all chats. */
export function unreadCount() {
  let n = 0;
  for (const ch of chats.values()) n += ch.unread;
  return n;
}

/** mount builds the chats screen inside root. */
export function mount(root) {
  el = {
    root,
    side: h('aside', { class: 'side', 'aria-label': t('queue.title') }),
    main: h('section', { class: 'conv' }),
    tabs: h('div', { class: 'tabs', role: 'tablist' }),
    panes: h('div', { class: 'panes' }),
    empty: h('div', { class: 'conv__empty' }),
    card: h('aside', { class: 'cardpane', 'aria-label': t('card.title') }),
    sig: {},
  };
  fill(el.main, el.tabs, el.panes, el.empty);
  fill(root, el.side, el.main, el.card);
  render();
}

/** relabel rebuilds everything after a language switch. */
export function relabel() {
  for (const ch of chats.values()) {
    if (ch.pane) ch.pane.root.remove();
    ch.pane = null;
  }
  if (el) mount(el.root);
}

function render() {
  if (!el) return;
  el.root.classList.toggle('chats--queue', showQueue);
  el.root.classList.toggle('chats--card', cardOpen);
  renderQueue();
  renderTabs();
  for (const ch of chats.values()) if (ch.pane) ch.pane.root.hidden = ch.c.id !== active;
  const ch = chats.get(active);
  el.empty.hidden = !!ch;
  el.panes.hidden = !ch;
  el.tabs.classList.toggle('tabs--empty', !order.length);
  if (!ch) {
    fill(el.empty, h('div', { class: 'empty' },
      h('div', { class: 'empty__icon' }, icon('chat', 44)),
      h('p', { text: t('chats.none') }),
      h('p', { class: 'muted', text: t('chats.pick') })));
    fill(el.card, h('div', { class: 'cardpane__empty muted', text: t('card.none') }));
    el.cardFor = '';
  } else {
    renderPane(ch);
    const key = ch.c.site_id + ':' + ch.c.visitor_id + ':' + ch.c.state;
    if (el.cardFor !== key) {
      el.cardFor = key;
      showCard(el.card, ch.c.site_id, ch.c.visitor_id, () => { cardOpen = false; render(); });
    }
  }
  emit('badges');
}

/** refreshCard reloads the visitor card of the active chat. */
export function refreshCard() {
  if (el) el.cardFor = '';
  render();
}

setInterval(() => { if (el && queue.size && app.view === 'chats') renderQueue(); }, 15000);

function renderQueue() {
  if (!el) return;
  const now = Date.now() / 1000;
  const u = units();
  const q = sortedQueue();
  const mineChats = order.map((id) => chats.get(id));
  const sig = JSON.stringify([active, q.map((c) => [c.id, visitorName(c), c.last_text, c.site_id, duration(now - c.created_at, u)]),
    mineChats.map((ch) => [ch.c.id, ch.c.state, visitorName(ch.c), ch.unread, ch.draft, ch.c.last_text])]);
  if (same('side', sig)) return;
  const items = q.map((c) => h('li', { class: 'qitem', dataset: { chat: c.id } },
    h('div', { class: 'qitem__top' },
      h('span', { class: 'qitem__name', text: visitorName(c) }),
      h('span', { class: 'qitem__wait', text: t('queue.waiting', duration(now - c.created_at, u)) })),
    h('div', { class: 'qitem__text', text: c.last_text || '…' }),
    h('div', { class: 'qitem__bottom' },
      h('span', { class: 'qitem__site', text: siteName(c.site_id) }),
      h('button', { type: 'button', class: 'btn btn--primary btn--sm qitem__take', onclick: () => take(c.id), text: t('queue.take') }))));
  const mine = mineChats.map((ch) => h('li', {
    class: 'mitem' + (ch.c.id === active ? ' is-active' : '') + (ch.c.state === 'closed' ? ' is-closed' : ''),
    onclick: () => select(ch.c.id),
  },
  h('span', { class: 'dot dot--' + ch.c.state, 'aria-hidden': 'true' }),
  h('span', { class: 'mitem__name', text: visitorName(ch.c) }),
  ch.unread ? h('span', { class: 'badge', text: String(ch.unread) }) : null,
  h('div', { class: 'mitem__text', text: ch.draft ? '✎ ' + ch.draft : ch.c.last_text || t('chat.state.' + ch.c.state) })));
  fill(el.side,
    h('div', { class: 'side__head' }, h('h2', { text: t('queue.title') }), h('span', { class: 'count', text: String(queue.size) })),
    items.length ? h('ul', { class: 'qlist' }, items) : h('p', { class: 'side__empty muted', text: t('queue.empty') }),
    h('div', { class: 'side__head' }, h('h2', { text: t('chats.title') }), h('span', { class: 'count', text: String(order.length) })),
    mine.length ? h('ul', { class: 'mlist' }, mine) : h('p', { class: 'side__empty muted', text: t('chats.none') }));
}

function renderTabs() {
  if (!el) return;
  renderQueue();
  const sig = JSON.stringify([active, showQueue, queue.size, order.map((id) => { const ch = chats.get(id); return [id, ch.c.state, visitorName(ch.c), ch.unread]; })]);
  if (same('tabs', sig)) return;
  const tabs = order.map((id) => {
    const ch = chats.get(id);
    return h('button', {
      type: 'button', role: 'tab', class: 'tab' + (id === active ? ' is-active' : '') + (ch.c.state === 'closed' ? ' is-closed' : ''),
      'aria-selected': id === active ? 'true' : 'false', dataset: { chat: id }, onclick: () => select(id),
    },
    h('span', { class: 'dot dot--' + ch.c.state, 'aria-hidden': 'true' }),
    h('span', { class: 'tab__name', text: visitorName(ch.c) }),
    ch.unread ? h('span', { class: 'badge', text: String(ch.unread) }) : null);
  });
  fill(el.tabs,
    h('button', { type: 'button', class: 'tab tab--queue' + (showQueue ? ' is-active' : ''), onclick: () => { showQueue = !showQueue; render(); } },
      h('span', { text: t('chats.queueButton', queue.size) })),
    tabs);
}

function buildPane(ch) {
  const p = {};
  p.title = h('h2', { class: 'chat__title' });
  p.sub = h('div', { class: 'chat__sub' });
  p.rating = h('div', { class: 'chat__rating' });
  p.cardBtn = h('button', { type: 'button', class: 'btn chat__cardbtn', onclick: () => { cardOpen = !cardOpen; render(); }, text: t('chat.card') });
  p.transferBtn = h('button', { type: 'button', class: 'btn chat__transfer', onclick: () => openTransfer(ch.c, () => handedOver(ch.c.id)), text: t('chat.transfer') });
  p.closeBtn = h('button', { type: 'button', class: 'btn btn--danger chat__close', onclick: () => closeChat(ch), text: t('chat.close') });
  p.dismissBtn = h('button', { type: 'button', class: 'btn chat__dismiss', onclick: () => dropChat(ch.c.id), text: t('chat.dismiss') });
  p.older = h('button', { type: 'button', class: 'btn btn--ghost btn--sm log__older', onclick: () => loadHistory(ch), text: t('chat.older') });
  p.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite' });
  p.draft = h('div', { class: 'draft', hidden: true });
  p.notice = h('div', { class: 'chat__notice', hidden: true });
  p.text = h('textarea', { class: 'composer__text', rows: '1', placeholder: t('chat.placeholder'), 'aria-label': t('chat.placeholder') });
  p.file = h('input', { type: 'file', class: 'composer__file', multiple: true, tabindex: '-1', 'aria-hidden': 'true' });
  p.attach = h('button', { type: 'button', class: 'btn btn--icon composer__attach', title: t('chat.attach'), 'aria-label': t('chat.attach'), onclick: () => p.file.click() }, icon('clip', 20));
  p.send = h('button', { type: 'button', class: 'btn btn--primary composer__send', onclick: () => sendText(ch), text: t('chat.send') });
  p.composer = h('div', { class: 'composer' }, p.attach, p.file, p.text, p.send);
  p.text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.isComposing) {
      e.preventDefault();
      sendText(ch);
    }
  });
  p.text.addEventListener('input', () => {
    // Some input paths (IMEs, automation) still insert the Enter that sent.
    if (Date.now() - (ch.sentAt || 0) < 300 && /^[\r\n]+$/.test(p.text.value)) p.text.value = '';
    // Grow with the text (up to the CSS max-height), back to one line when short.
    p.text.style.height = '';
    if (p.text.scrollHeight > p.text.clientHeight) p.text.style.height = Math.min(p.text.scrollHeight + 2, 160) + 'px';
    sendTyping(ch, p.text.value, false);
  });
  p.file.addEventListener('change', () => {
    const files = Array.prototype.slice.call(p.file.files || []);
    p.file.value = '';
    if (files.length) sendFiles(ch, files);
  });
  p.root = h('div', { class: 'chat', dataset: { chat: ch.c.id } },
    h('header', { class: 'chat__head' },
      h('div', { class: 'chat__who' }, p.title, p.sub, p.rating),
      h('div', { class: 'chat__actions' }, p.cardBtn, p.transferBtn, p.closeBtn, p.dismissBtn)),
    h('div', { class: 'log__wrap' }, p.older, p.log),
    p.draft, p.notice, p.composer);
  return p;
}

function renderPane(ch, keepBottom) {
  if (!el) return;
  if (!ch.pane) {
    ch.pane = buildPane(ch);
    el.panes.appendChild(ch.pane.root);
    keepBottom = true;
  }
  const p = ch.pane;
  p.root.hidden = ch.c.id !== active;
  const c = ch.c;
  const closed = c.state === 'closed';
  p.title.textContent = visitorName(c);
  fill(p.sub,
    h('span', { class: 'pill pill--' + c.state, text: t('chat.state.' + c.state) }),
    h('span', { text: siteName(c.site_id) }),
    h('span', { text: '#' + c.id + ' · ' + clock(c.created_at) }));
  fill(p.rating, c.rating ? [stars(c.rating), h('span', { class: 'chat__ratingtext', text: t('chat.rating', c.rating) })]
    : closed ? h('span', { class: 'muted', text: t('chat.noRating') }) : null);
  p.transferBtn.hidden = closed || c.state === 'invite';
  p.closeBtn.hidden = closed;
  p.dismissBtn.hidden = !closed;
  p.composer.hidden = closed;
  p.notice.hidden = !closed;
  p.notice.textContent = closed ? t('chat.closedNote') : '';
  p.older.hidden = !ch.more;

  // The log: rebuilt from the events by seq, then the texts not yet stored.
  const log = p.log;
  const atBottom = keepBottom || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const fromBottom = log.scrollHeight - log.scrollTop;
  const seqs = [...ch.events.keys()].sort((a, b) => a - b);
  const nodes = seqs.map((s) => eventNode(ch.events.get(s)));
  for (const [u, pm] of ch.pending) {
    nodes.push(h('div', { class: 'msg msg--operator msg--pending' + (pm.state === 'failed' ? ' msg--failed' : ''), dataset: { uid: u } },
      h('div', { class: 'msg__bubble', text: pm.text }),
      h('div', { class: 'msg__meta' },
        h('span', { text: pm.state === 'failed' ? t('chat.failed', pm.err) : t('chat.sending') }),
        pm.state === 'failed' ? h('button', { type: 'button', class: 'btn btn--ghost btn--sm', onclick: () => { sendPending(ch, u); renderPane(ch); }, text: t('common.retry') }) : null)));
  }
  for (const name of ch.uploads) {
    nodes.push(h('div', { class: 'msg msg--operator msg--pending' }, h('div', { class: 'msg__bubble' }, icon('clip', 16), ' ' + name), h('div', { class: 'msg__meta', text: t('chat.sending') })));
  }
  fill(log, nodes);
  log.scrollTop = atBottom ? log.scrollHeight : log.scrollHeight - fromBottom;
  renderDraft(ch);
}

function renderDraft(ch) {
  const p = ch.pane;
  const show = !!ch.draft && ch.c.state !== 'closed';
  p.draft.hidden = !show;
  fill(p.draft, show ? [h('span', { class: 'draft__label', text: t('chat.typing') }), h('span', { class: 'draft__text', text: ch.draft })] : null);
}

