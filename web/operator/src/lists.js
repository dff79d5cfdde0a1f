// The list screens: visitors on the site now (with an invitation to chat),
// offline requests and call-back orders (filters, processed mark), kept up to
// date by the offline_request and callback frames of the operator websocket.

import { h, fill, clock, duration, toast, safeURL, shortURL, phoneText } from './dom.js';
import { t, errText, units } from './i18n.js';
import { app, on, emit, siteName } from './state.js';
import * as api from './api.js';
import * as alert from './alert.js';
import { icon } from './icons.js';

function siteSelect(onChange) {
  if (app.sites.length < 2) return h('span', { class: 'toolbar__site', text: siteName(app.site) });
  const sel = h('select', { class: 'input input--sm', 'aria-label': t('req.site') },
    app.sites.map((s) => h('option', { value: String(s.id), selected: s.id === app.site, text: siteName(s.id) })));
  sel.addEventListener('change', () => {
    app.site = Number(sel.value);
    onChange();
  });
  return sel;
}

function sourceText(src) {
  return src || t('source.direct');
}

// ---- live visitors ------------------------------------------------------

const live = { root: null, rows: [], inviting: 0, loadedAt: 0, timer: 0, error: '' };

/** mountLive builds the live visitors screen in root. */
export function mountLive(root) {
  live.root = root;
  renderLive();
  loadLive();
}

async function loadLive() {
  clearTimeout(live.timer);
  if (!app.site) return;
  try {
    const r = await api.call('GET', '/api/operator/visitors/live' + api.query({ site_id: app.site }));
    live.rows = r.visitors || [];
    live.error = '';
    live.loadedAt = Date.now();
  } catch (e) {
    live.error = errText(e);
  }
  renderLive();
  if (app.view === 'visitors') live.timer = setTimeout(loadLive, 10000);
}

on('view', (v) => { if (v === 'visitors' && live.root) loadLive(); });
on('frame', (f) => {
  // A chat starting or ending changes who is "in chat" in the list.
  if (f.type === 'chat' && app.view === 'visitors' && live.root && !live.inviting) loadLive();
});

function renderLive() {
  if (!live.root) return;
  const u = units();
  const rows = live.rows.map((v) => {
    const inviting = live.inviting === v.visitor_id;
    const row = h('tr', { class: 'lrow', dataset: { visitor: v.visitor_id } },
      h('td', {}, h('div', { class: 'lrow__name', text: v.name || t('chat.visitor', v.visitor_id) }),
        h('div', { class: 'muted small', text: t('device.' + v.device_type) })),
      h('td', { class: 'lrow__page' }, v.page ? [h('div', { class: 'lrow__title', text: v.page.title || v.page.url }),
        h('a', { class: 'link small', href: safeURL(v.page.url), target: '_blank', rel: 'noopener noreferrer', title: v.page.url, text: shortURL(v.page.url) })] : '—'),
      h('td', { class: 'nowrap', text: duration(v.time_on_site_s, u) }),
      h('td', {}, h('div', { text: sourceText(v.source) }), v.utm && v.utm.campaign ? h('div', { class: 'muted small', text: v.utm.campaign }) : null),
      h('td', { class: 'nowrap' }, v.chat_id
        ? h('span', { class: 'pill pill--active', text: t('live.inChat') })
        : h('button', { type: 'button', class: 'btn btn--primary btn--sm lrow__invite', onclick: () => { live.inviting = inviting ? 0 : v.visitor_id; renderLive(); }, text: t('live.invite') })));
    if (!inviting) return row;
    const text = h('textarea', { class: 'input invite__text', rows: '2', maxlength: '10000', 'aria-label': t('live.message') });
    text.value = t('live.defaultMessage');
    const err = h('span', { class: 'form__error', hidden: true });
    const send = h('button', { type: 'submit', class: 'btn btn--primary btn--sm', text: t('live.send') });
    const form = h('form', { class: 'invite' }, h('label', { class: 'field__label', text: t('live.message') }), text,
      h('div', { class: 'dialog__actions' }, err,
        h('button', { type: 'button', class: 'btn btn--sm', onclick: () => { live.inviting = 0; renderLive(); }, text: t('card.cancel') }), send));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      send.disabled = true;
      const r = await app.conn.call({ type: 'invite', site_id: v.site_id, visitor_id: v.visitor_id, text: text.value });
      send.disabled = false;
      if (!r.ok) {
        err.hidden = false;
        err.textContent = errText(r.error);
        return;
      }
      toast(t('live.invited'));
      live.inviting = 0;
      v.chat_id = r.chat && r.chat.id;
      renderLive();
    });
    setTimeout(() => text.focus(), 0);
    return [row, h('tr', { class: 'lrow lrow--invite' }, h('td', { colspan: '5' }, form))];
  });
  fill(live.root,
    h('div', { class: 'toolbar' },
      h('h2', { class: 'toolbar__title', text: t('live.title') }),
      h('span', { class: 'count', text: String(live.rows.length) }),
      siteSelect(loadLive),
      h('span', { class: 'spacer' }),
      live.loadedAt ? h('span', { class: 'muted small', text: t('live.updated', clock(live.loadedAt / 1000)) }) : null,
      h('button', { type: 'button', class: 'btn btn--sm live__refresh', onclick: loadLive, text: t('live.refresh') })),
    live.error ? h('p', { class: 'form__error', text: t('common.error', live.error) }) : null,
    rows.length
      ? h('div', { class: 'tablewrap' }, h('table', { class: 'table table--live' },
        h('thead', {}, h('tr', {}, ['live.visitor', 'live.page', 'live.time', 'live.source', ''].map((k) => h('th', { text: k ? t(k) : '' })))),
        h('tbody', {}, rows)))
      : h('div', { class: 'empty' }, h('div', { class: 'empty__icon' }, icon('users', 44)), h('p', { text: t('live.empty') })));
}

// ---- offline requests and call-back orders ------------------------------

function makeList(kind) {
  return {
    kind, // 'requests' | 'callbacks'
    root: null,
    items: [],
    next: null,
    processed: 'false',
    q: '',
    error: '',
    loading: false,
    fresh: new Set(), // ids that came while the page is open (highlighted)
    unseen: 0, // that came while another screen was shown (the badge)
  };
}

const lists = { requests: makeList('requests'), callbacks: makeList('callbacks') };
const paths = { requests: '/api/operator/offline_requests', callbacks: '/api/operator/callbacks' };
const keys = { requests: 'offline_requests', callbacks: 'callbacks' };

/** mountList builds the requests or callbacks screen in root. */
export function mountList(kind, root) {
  lists[kind].root = root;
  renderList(lists[kind]);
  loadList(lists[kind], false);
}

async function loadList(L, more) {
  if (!app.site) return;
  L.loading = true;
  const params = { site_id: app.site, processed: L.processed, q: L.q.trim(), limit: 50 };
  if (more && L.next) params.before = L.next;
  try {
    const r = await api.call('GET', paths[L.kind] + api.query(params));
    const got = r[keys[L.kind]] || [];
    L.items = more ? L.items.concat(got.filter((x) => !L.items.some((y) => y.id === x.id))) : got;
    L.next = r.next_before || null;
    L.error = '';
  } catch (e) {
    L.error = errText(e);
  }
  L.loading = false;
  renderList(L);
}

on('view', (v) => { if (lists[v] && lists[v].root) loadList(lists[v], false); });
on('frame', (f) => {
  const L = f.type === 'offline_request' ? lists.requests : f.type === 'callback' ? lists.callbacks : null;
  if (!L) return;
  const id = f.offline_request_id || f.callback_id || f.id;
  const created = !f.event || f.event === 'created' || f.event === 'requested';
  if (created) {
    if (id) L.fresh.add(id);
    if (app.view !== L.kind) L.unseen++;
    alert.chime();
    alert.notify(t(L.kind === 'requests' ? 'req.notify' : 'cb.notify'), siteName(f.site_id), L.kind + '-' + id, () => emit('navigate', L.kind));
    emit('badges');
  }
  if (L.root && f.site_id === app.site) loadList(L, false);
});

// Frames lost while the connection was down are not resent: reload.
on('opened', () => {
  if (live.root && app.view === 'visitors') loadLive();
  for (const k of Object.keys(lists)) if (lists[k].root) loadList(lists[k], false);
});

/** freshCount is how many new requests (or orders) came since the list was last looked at. */
export function freshCount(kind) { return lists[kind].unseen; }

/** seen forgets the new marks of a list (it is on screen). */
export function seen(kind) { lists[kind].unseen = 0; emit('badges'); }

async function mark(L, item, processed) {
  const path = paths[L.kind] + '/' + encodeURIComponent(item.id) + '/processed';
  try {
    const r = await api.call('POST', path, { processed });
    const now = r.offline_request || r.callback;
    if (now) Object.assign(item, now);
    if (L.processed !== '' && String(item.processed) !== L.processed) L.items = L.items.filter((x) => x !== item);
    renderList(L);
  } catch (e) {
    toast(t('common.error', errText(e)), 'error');
  }
}

function renderList(L) {
  if (!L.root) return;
  const isReq = L.kind === 'requests';
  const filters = [['', 'req.all'], ['false', 'req.new'], ['true', 'req.processed']].map(([v, k]) =>
    h('button', { type: 'button', class: 'seg__btn' + (L.processed === v ? ' is-active' : ''), 'aria-pressed': L.processed === v ? 'true' : 'false',
      onclick: () => { L.processed = v; loadList(L, false); renderList(L); }, text: t(k) }));
  const ph = t(isReq ? 'req.search' : 'cb.search');
  const search = h('input', { class: 'input input--sm toolbar__search', type: 'search', value: L.q, placeholder: ph, 'aria-label': ph });
  let timer = 0;
  search.addEventListener('input', () => {
    L.q = search.value;
    clearTimeout(timer);
    timer = setTimeout(() => loadList(L, false), 300);
  });
  const rows = L.items.map((x) => {
    const fresh = L.fresh.has(x.id);
    const status = h('span', { class: 'pill ' + (x.processed ? 'pill--done' : 'pill--new'), text: x.processed ? t('req.isDone') : t('req.isNew') });
    const toggle = h('button', { type: 'button', class: 'btn btn--sm ' + (x.processed ? '' : 'btn--primary') + ' lrow__mark',
      onclick: () => mark(L, x, !x.processed), text: x.processed ? t('req.markNew') : t('req.markDone') });
    const by = x.processed && x.processed_by ? h('div', { class: 'muted small', text: x.processed_by.name + ' · ' + clock(x.processed_at) }) : null;
    if (isReq) {
      return h('tr', { class: 'lrow' + (fresh ? ' is-fresh' : ''), dataset: { id: x.id } },
        h('td', { class: 'nowrap' }, h('div', { text: clock(x.created_at) }), h('div', { class: 'muted small', text: '#' + x.id })),
        h('td', {}, h('div', { class: 'lrow__name', text: x.name || '—' }),
          x.phone ? h('div', { class: 'small', text: phoneText(x.phone) }) : null, x.email ? h('div', { class: 'small', text: x.email }) : null),
        h('td', { class: 'lrow__msg' }, h('div', { class: 'lrow__text', text: x.message || '' }),
          x.form_name ? h('div', { class: 'muted small', text: x.form_name }) : null,
          x.page_url ? h('a', { class: 'link small', href: safeURL(x.page_url), target: '_blank', rel: 'noopener noreferrer', title: x.page_url, text: shortURL(x.page_url) }) : null),
        h('td', {}, h('div', { text: sourceText(x.source) })),
        h('td', {}, status, by),
        h('td', { class: 'nowrap' }, toggle));
    }
    const st = x.status === 'scheduled' ? 'requested' : x.status;
    return h('tr', { class: 'lrow' + (fresh ? ' is-fresh' : ''), dataset: { id: x.id } },
      h('td', { class: 'nowrap' }, h('div', { text: clock(x.created_at) }), h('div', { class: 'muted small', text: '#' + x.id })),
      h('td', { class: 'nowrap' }, h('div', { class: 'lrow__name', text: phoneText(x.phone) }), x.group ? h('div', { class: 'muted small', text: x.group.name }) : null),
      h('td', { class: 'nowrap', text: clock(x.scheduled_at) }),
      h('td', {}, h('span', { class: 'pill pill--cb-' + st, text: t('cb.state.' + st) }), x.last_error ? h('div', { class: 'muted small', text: x.last_error }) : null),
      h('td', {}, h('div', { text: sourceText(x.source) }), x.page_url ? h('a', { class: 'link small', href: safeURL(x.page_url), target: '_blank', rel: 'noopener noreferrer', title: x.page_url, text: shortURL(x.page_url) }) : null),
      h('td', {}, status, by),
      h('td', { class: 'nowrap' }, toggle));
  });
  const heads = isReq ? ['req.date', 'req.contact', 'req.message', 'live.source', 'req.status', '']
    : ['req.date', 'cb.phone', 'cb.due', 'cb.dispatch', 'live.source', 'req.status', ''];
  const hadFocus = document.activeElement && document.activeElement.classList.contains('toolbar__search') && L.root.contains(document.activeElement);
  fill(L.root,
    h('div', { class: 'toolbar' },
      h('h2', { class: 'toolbar__title', text: t(isReq ? 'req.title' : 'cb.title') }),
      siteSelect(() => loadList(L, false)),
      h('div', { class: 'seg', role: 'group' }, filters),
      search),
    L.error ? h('p', { class: 'form__error', text: t('common.error', L.error) }) : null,
    rows.length
      ? h('div', { class: 'tablewrap' }, h('table', { class: 'table table--' + L.kind },
        h('thead', {}, h('tr', {}, heads.map((k) => h('th', { text: k ? t(k) : '' })))),
        h('tbody', {}, rows)))
      : h('div', { class: 'empty' }, h('div', { class: 'empty__icon' }, icon(isReq ? 'mail' : 'phone', 44)),
        h('p', { text: L.loading ? t('common.loading') : t(isReq ? 'req.empty' : 'cb.empty') })),
    L.next ? h('button', { type: 'button', class: 'btn more', onclick: () => loadList(L, true), text: t('req.more') }) : null);
  if (hadFocus) {
    const s = L.root.querySelector('.toolbar__search');
    s.focus();
    s.setSelectionRange(s.value.length, s.value.length);
  }
}

/** relabelLists re-renders the lists after a language switch. */
export function relabelLists() {
  renderLive();
  renderList(lists.requests);
  renderList(lists.callbacks);
}

/** resetLists forgets everything (logout). */
export function resetLists() {
  clearTimeout(live.timer);
  live.root = null;
  live.rows = [];
  for (const k of Object.keys(lists)) Object.assign(lists[k], makeList(k));
}
