// The visitor card (GET/PATCH /api/operator/visitors/{id}?site_id=): name and
// contacts (editable), properties, source and UTM tags, device, the current
// page and the pages of this visit, previous chats, offline requests and
// call-back orders of the visitor.

import { h, fill, clock, duration, toast, safeURL, shortURL, phoneText } from './dom.js';
import { t, errText, units } from './i18n.js';
import * as api from './api.js';
import { app, emit } from './state.js';
import { eventNode } from './events.js';

let seq = 0;

/** showCard loads and shows the card of a visitor in box; onClose hides the pane (narrow screens). */
export async function showCard(box, siteID, visitorID, onClose) {
  const my = ++seq;
  box.dataset.visitor = String(visitorID);
  fill(box, head(onClose), h('p', { class: 'card__loading muted', text: t('card.loading') }));
  let v;
  try {
    const r = await api.call('GET', '/api/operator/visitors/' + encodeURIComponent(visitorID) + api.query({ site_id: siteID }));
    v = r.visitor;
  } catch (e) {
    if (my !== seq) return;
    fill(box, head(onClose), h('p', { class: 'form__error', text: t('card.failed', errText(e)) }),
      h('button', { type: 'button', class: 'btn btn--sm', onclick: () => showCard(box, siteID, visitorID, onClose), text: t('common.retry') }));
    return;
  }
  if (my !== seq) return;
  render(box, v, siteID, onClose);
}

function head(onClose) {
  return h('div', { class: 'card__head' },
    h('h2', { text: t('card.title') }),
    h('button', { type: 'button', class: 'btn btn--icon card__close', 'aria-label': '×', onclick: onClose, text: '×' }));
}

function section(title, ...body) {
  return h('section', { class: 'card__sec' }, h('h3', { class: 'card__h', text: title }), body);
}

function kv(rows) {
  const items = rows.filter((r) => r[1] !== null && r[1] !== undefined && r[1] !== '');
  if (!items.length) return h('p', { class: 'muted', text: t('card.empty') });
  return h('dl', { class: 'kv' }, items.map((r) => [h('dt', { text: r[0] }), h('dd', {}, r[1])]));
}

function link(url, text) {
  if (!url) return null;
  return h('a', { href: safeURL(url), target: '_blank', rel: 'noopener noreferrer', class: 'link', title: url, text: text || shortURL(url) });
}

function render(box, v, siteID, onClose) {
  const s = v.session;
  const u = units();
  const contacts = h('div', { class: 'card__contacts' });
  showContacts(contacts, v, siteID, box, onClose);
  const utm = s && s.utm ? Object.keys(s.utm).filter((k) => s.utm[k]).map((k) => ['utm_' + k, s.utm[k]]) : [];
  fill(box,
    head(onClose),
    h('div', { class: 'card__body' },
      contacts,
      section(t('card.page'), v.current_page
        ? h('div', { class: 'card__page' }, h('div', { class: 'card__pagetitle', text: v.current_page.title || v.current_page.url }), link(v.current_page.url))
        : h('p', { class: 'muted', text: t('card.empty') })),
      section(t('card.source'), kv([
        [t('card.source'), s ? s.source || t('source.direct') : ''],
        [t('card.referrer'), s && s.referrer ? link(s.referrer, s.referrer_domain || s.referrer) : ''],
        [t('card.landing'), s && s.landing_url ? link(s.landing_url) : ''],
        [t('live.time'), s ? duration(s.time_on_site_s, u) : ''],
      ])),
      utm.length ? section(t('card.utm'), kv(utm)) : null,
      section(t('card.device'), kv([
        [t('card.device'), s ? t('device.' + s.device_type) : ''],
        ['User-Agent', s ? s.user_agent : ''],
      ])),
      section(t('card.properties'), v.properties && v.properties.length
        ? kv(v.properties.map((p) => [p.name, p.value === null ? '✓' : p.value]))
        : h('p', { class: 'muted', text: t('card.empty') })),
      section(t('card.pages') + ' (' + (v.pages || []).length + ')', (v.pages || []).length
        ? h('ol', { class: 'card__pages' }, v.pages.slice().reverse().map((p) => h('li', {},
          h('span', { class: 'card__time', text: clock(p.at) }), link(p.url, p.title || p.url))))
        : h('p', { class: 'muted', text: t('card.empty') })),
      section(t('card.chats'), (v.chats || []).length
        ? h('ul', { class: 'card__list' }, v.chats.map((c) => h('li', {},
          h('span', { class: 'card__time', text: clock(c.created_at) }),
          h('button', { type: 'button', class: 'linkbtn card__chat', title: t('card.transcript'), onclick: () => transcript(c),
            text: '#' + c.id + ' · ' + t('chat.state.' + c.state) + (c.employee ? ' · ' + c.employee.name : '') }),
          c.rating ? h('span', { class: 'stars-inline', text: '★'.repeat(c.rating) + '☆'.repeat(5 - c.rating) }) : null)))
        : h('p', { class: 'muted', text: t('card.empty') })),
      section(t('card.requests'), (v.offline_requests || []).length
        ? h('ul', { class: 'card__list' }, v.offline_requests.map((r) => h('li', {},
          h('span', { class: 'card__time', text: clock(r.created_at) }),
          h('span', { class: 'card__reqtext', text: [r.name, r.phone && phoneText(r.phone), r.email].filter(Boolean).join(', ') + (r.message ? ' — ' + r.message : '') }),
          h('span', { class: 'pill ' + (r.processed ? 'pill--done' : 'pill--new'), text: r.processed ? t('req.isDone') : t('req.isNew') }))))
        : h('p', { class: 'muted', text: t('card.empty') })),
      section(t('card.callbacks'), (v.callbacks || []).length
        ? h('ul', { class: 'card__list' }, v.callbacks.map((c) => h('li', {},
          h('span', { class: 'card__time', text: clock(c.created_at) }),
          h('span', { text: phoneText(c.phone) + ' · ' + t('cb.state.' + (c.status === 'scheduled' ? 'requested' : c.status)) }),
          h('span', { class: 'pill ' + (c.processed ? 'pill--done' : 'pill--new'), text: c.processed ? t('req.isDone') : t('req.isNew') }))))
        : h('p', { class: 'muted', text: t('card.empty') }))));
}

function showContacts(box, v, siteID, card, onClose) {
  const emails = v.emails || [];
  const phones = v.phones || [];
  fill(box,
    h('div', { class: 'card__name', text: v.name || t('chat.visitor', v.visitor_id) }),
    kv([
      [t('card.emails'), emails.length ? h('span', {}, emails.map((e, i) => [i ? ', ' : '', h('span', { class: 'card__email', text: e })])) : t('common.unknown')],
      [t('card.phones'), phones.length ? h('span', {}, phones.map((p, i) => [i ? ', ' : '', h('span', { class: 'card__phone', text: phoneText(p) })])) : t('common.unknown')],
    ]),
    h('button', { type: 'button', class: 'btn btn--sm card__edit', onclick: () => editContacts(box, v, siteID, card, onClose), text: t('card.edit') }));
}

function editContacts(box, v, siteID, card, onClose) {
  const name = h('input', { class: 'input', name: 'name', value: v.name || '', maxlength: '200' });
  const emails = h('input', { class: 'input', name: 'emails', value: (v.emails || []).join(', '), placeholder: 'name@example.com, …' });
  const phones = h('input', { class: 'input', name: 'phones', value: (v.phones || []).join(', '), placeholder: '+7 900 000-00-00, …' });
  const err = h('p', { class: 'form__error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn btn--primary btn--sm', text: t('card.save') });
  const list = (s) => s.split(/[,;\n]/).map((x) => x.trim()).filter(Boolean);
  const form = h('form', { class: 'card__form' },
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('card.name') }), name),
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('card.emails') }), emails),
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('card.phones') }), phones),
    err,
    h('div', { class: 'dialog__actions' },
      h('button', { type: 'button', class: 'btn btn--sm', onclick: () => showContacts(box, v, siteID, card, onClose), text: t('card.cancel') }),
      save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      const r = await api.call('PATCH', '/api/operator/visitors/' + encodeURIComponent(v.visitor_id) + api.query({ site_id: siteID }),
        { name: name.value.trim(), emails: list(emails.value), phones: list(phones.value) });
      toast(t('card.saved'));
      emit('visitor', r.visitor);
      render(card, r.visitor, siteID, onClose);
    } catch (ex) {
      save.disabled = false;
      err.hidden = false;
      err.textContent = errText(ex) + (ex.field ? ' [' + ex.field + ']' : '');
    }
  });
  fill(box, form);
  name.focus();
}

/** transcript shows a chat's conversation in a dialog, paging back on demand. */
async function transcript(c) {
  const log = h('div', { class: 'log log--dialog' });
  const more = h('button', { type: 'button', class: 'btn btn--ghost btn--sm log__older', hidden: true, text: t('chat.older') });
  const dlg = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': t('card.transcript') },
    h('div', { class: 'dialog__box dialog__box--wide' },
      h('div', { class: 'dialog__head' },
        h('h2', { class: 'dialog__title', text: t('card.transcript') + ' #' + c.id }),
        h('button', { type: 'button', class: 'btn btn--icon', 'aria-label': '×', onclick: () => close(), text: '×' })),
      more, log));
  const close = () => { dlg.remove(); document.removeEventListener('keydown', esc); };
  const esc = (e) => { if (e.key === 'Escape') close(); };
  document.addEventListener('keydown', esc);
  dlg.addEventListener('click', (e) => { if (e.target === dlg) close(); });
  document.body.appendChild(dlg);
  let before = 0;
  const page = async () => {
    const q = { type: 'history', chat_id: c.id };
    if (before) q.before = before;
    const r = await app.conn.call(q);
    if (!r.ok) {
      log.insertBefore(h('p', { class: 'form__error', text: errText(r.error) }), log.firstChild);
      return;
    }
    const msgs = r.messages || [];
    const first = log.firstChild;
    const fromBottom = log.scrollHeight - log.scrollTop;
    for (const ev of msgs) log.insertBefore(eventNode(ev), first);
    if (msgs.length) before = msgs[0].message_id;
    more.hidden = !r.more;
    log.scrollTop = log.scrollHeight - fromBottom;
  };
  more.addEventListener('click', page);
  await page();
}
