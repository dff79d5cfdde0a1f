// How chat events look: messages and files as bubbles, everything else as
// a line of the system. Shared by the conversation and the card's transcripts.

import { h, clock, bytes, safeURL } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';

/** stars draws a rating of n out of 5. */
export function stars(n) {
  const s = h('span', { class: 'stars', 'aria-hidden': 'true' });
  for (let i = 1; i <= 5; i++) s.appendChild(h('span', { class: i <= n ? 'star star--on' : 'star', text: '★' }));
  return s;
}

/** eventNode draws one event of a chat. */
export function eventNode(ev) {
  const time = clock(ev.date);
  switch (ev.kind) {
    case 'message':
    case 'file': {
      const who = ev.sender === 'operator' ? (ev.operator && ev.operator.name) || t('ev.operator') : ev.sender === 'system' ? t('ev.system') : '';
      let body;
      if (ev.kind === 'file' && ev.file) {
        const img = /^image\/(png|jpeg|gif|webp)$/.test(ev.file.content_type || '');
        body = h('a', { class: 'msg__file', href: safeURL(ev.file.url), target: '_blank', rel: 'noopener noreferrer', download: ev.file.name },
          img ? h('img', { class: 'msg__thumb', src: safeURL(ev.file.url), alt: '' }) : h('span', { class: 'msg__fileicon' }, icon('file', 20)),
          h('span', { class: 'msg__filename', text: ev.file.name }),
          h('span', { class: 'msg__filesize', text: bytes(ev.file.size || 0) }));
      } else {
        body = ev.text;
      }
      return h('div', { class: 'msg msg--' + ev.sender, dataset: { seq: ev.seq } },
        h('div', { class: 'msg__bubble' }, body),
        h('div', { class: 'msg__meta' }, who ? h('span', { class: 'msg__who', text: who }) : null, h('span', { text: time })));
    }
    case 'system':
      return sys(ev, ev.text);
    case 'invite':
      return sys(ev, t('ev.invite', ev.text));
    case 'join':
      return sys(ev, t('ev.join', (ev.operator && ev.operator.name) || t('ev.operator')));
    case 'leave':
      return sys(ev, t('ev.leave', (ev.operator && ev.operator.name) || t('ev.operator')));
    case 'rating':
      return sys(ev, t('ev.rating', ev.data && ev.data.rating), 'rating');
    case 'retention_action':
      return sys(ev, t('ev.retention', ev.data && ev.data.alternate_communication_way));
    case 'close': {
      const by = ev.data && ev.data.closed_by;
      return sys(ev, t('ev.close', by ? t('ev.closed_by.' + by) : ''));
    }
    default:
      return sys(ev, ev.text || ev.kind);
  }
}

function sys(ev, text, kind) {
  return h('div', { class: 'sys' + (kind ? ' sys--' + kind : ''), dataset: { seq: ev.seq } },
    h('span', { class: 'sys__text', text }), h('span', { class: 'sys__time', text: clock(ev.date) }));
}
