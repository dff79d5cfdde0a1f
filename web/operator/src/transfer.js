// The transfer dialog: hand a chat to another operator of its site or to a
// group's queue (GET /api/operator/directory, then the transfer frame).

import { h, toast } from './dom.js';
import { t, errText } from './i18n.js';
import { app } from './state.js';
import * as api from './api.js';

/** openTransfer shows the dialog for chat c; done(reply) runs after a transfer. */
export async function openTransfer(c, done) {
  let dir;
  try {
    dir = await api.call('GET', '/api/operator/directory');
  } catch (e) {
    toast(t('common.error', errText(e)), 'error');
    return;
  }
  const ops = (dir.operators || []).filter((o) => o.id !== app.me.id && o.can_chat && (o.site_ids || []).indexOf(c.site_id) >= 0);
  const groups = dir.groups || [];
  const opSel = h('select', { class: 'input', name: 'employee_id' },
    h('option', { value: '', text: '—' }),
    ops.map((o) => h('option', { value: String(o.id), text: o.name + ' — ' + t('transfer.' + o.status) + (o.max_chats ? ' (' + o.open_chats + '/' + o.max_chats + ')' : '') })));
  const grSel = h('select', { class: 'input', name: 'group_id' },
    h('option', { value: '', text: '—' }),
    groups.map((g) => h('option', { value: String(g.id), text: g.name })));
  const err = h('p', { class: 'form__error', role: 'alert', hidden: true });
  opSel.addEventListener('change', () => { if (opSel.value) grSel.value = ''; });
  grSel.addEventListener('change', () => { if (grSel.value) opSel.value = ''; });
  const go = h('button', { type: 'submit', class: 'btn btn--primary', text: t('transfer.go') });
  const form = h('form', { class: 'dialog__body' },
    ops.length || groups.length ? [
      h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('transfer.operator') }), opSel),
      h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('transfer.group') }), grSel),
    ] : h('p', { class: 'muted', text: t('transfer.none') }),
    err,
    h('div', { class: 'dialog__actions' },
      h('button', { type: 'button', class: 'btn', onclick: () => close(), text: t('transfer.cancel') }),
      go));
  const dlg = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': t('transfer.title') },
    h('div', { class: 'dialog__box' }, h('h2', { class: 'dialog__title', text: t('transfer.title') }), form));
  const close = () => { dlg.remove(); document.removeEventListener('keydown', esc); };
  const esc = (e) => { if (e.key === 'Escape') close(); };
  document.addEventListener('keydown', esc);
  dlg.addEventListener('click', (e) => { if (e.target === dlg) close(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = { type: 'transfer', chat_id: c.id };
    if (opSel.value) f.employee_id = Number(opSel.value);
    else if (grSel.value) f.group_id = Number(grSel.value);
    else { opSel.focus(); return; }
    go.disabled = true;
    const r = await app.conn.call(f);
    go.disabled = false;
    if (!r.ok) {
      err.hidden = false;
      err.textContent = errText(r.error);
      return;
    }
    close();
    done(r);
  });
  document.body.appendChild(dlg);
  opSel.focus();
}
