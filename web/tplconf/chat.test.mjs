// Pure logic of the consultant chat (web/embed/ui/chat.js) and the default
// chat templates (web/embed/widgets/consultant/consultant_chat*.html):
// message objects are escaped once, history pages come newest first, typing
// is throttled, and the templates render people's text as text.
// Run: node --test web/tplconf/chat.test.mjs (go test ./web/tplconf/ runs it).

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The framework's modules read window.Comagic only when they run a widget.
globalThis.window = {};
const ui = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'embed', 'ui');
const { toMessage, visitorMessage, sizeInfo, safeUrl, History, throttle, newUid } = await import(path.join(ui, 'chat.js'));
const { render } = await import(path.join(ui, 'tpl.js'));
const { consts } = await import(path.join(ui, 'main.js'));

const XSS = `<img src=x onerror="alert(1)">&'`;
const ESCAPED = '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;';

const ev = (o) => Object.assign({ type: 'event', chat_id: 7, seq: 1, message_id: 100, kind: 'message', sender: 'operator', text: 'hi', date: 1700000000, uid: null, operator: null, file: null }, o);

test('operator message: escaped text and name, from is the name', () => {
  const m = toMessage(ev({ text: XSS, operator: { name: 'Анна ' + XSS, position: 'Менеджер', avatar: 'https://cdn.example/a.png?x=1&y=2' } }));
  assert.equal(m.text, ESCAPED);
  assert.equal(m.operator_info.name, 'Анна ' + ESCAPED);
  assert.equal(m.from, m.operator_info.name);
  assert.equal(m.operator_info.avatar, 'https://cdn.example/a.png?x=1&amp;y=2');
  assert.deepEqual([m.source, m.sender, m.chat_id, m.message_id, m.date, m.uid, m.kind], ['Оператор', 'operator', 7, 100, 1700000000, null, 'message']);
  assert.equal('fx_link' in m, false, 'a text message has no fx_link (controllers pick the file template by it)');
});

test('visitor, system and unknown senders', () => {
  const v = toMessage(ev({ sender: 'visitor', uid: 'u1', operator: null }));
  assert.deepEqual([v.source, v.from, v.sender, v.uid], ['Посетитель', 'Посетитель', 'visitor', 'u1']);
  assert.deepEqual(v.operator_info, { name: '', position: '', avatar: '' }, 'operator_info is always an object');
  const s = toMessage(ev({ kind: 'system', sender: 'operator', text: 'Оператор ответит через минуту' }));
  assert.deepEqual([s.source, s.from, s.sender], ['Система', 'Система', 'system']);
  assert.equal(toMessage(ev({ sender: 'bot' })).sender, 'system');
  const op = toMessage(ev({ operator: null }));
  assert.equal(op.from, 'Оператор', 'an operator without a name is "Оператор"');
});

test('file message: fx_* fields, only for http(s) links', () => {
  const f = toMessage(ev({ kind: 'file', sender: 'visitor', text: '', file: { name: XSS + '.pdf', size: 3500, content_type: 'application/pdf', url: 'https://h.example/api/chat/files/9?sig=a&b=c' } }));
  assert.equal(f.fx_link, 'https://h.example/api/chat/files/9?sig=a&amp;b=c');
  assert.equal(f.fx_name, ESCAPED + '.pdf');
  assert.equal(f.fx_size, 3500);
  assert.equal(f.fx_size_info, '3,4 КБ');
  for (const url of ['javascript:alert(1)', ' javascript:alert(1)', 'data:text/html,x', '//evil.example/x', '']) {
    const m = toMessage(ev({ kind: 'file', file: { name: 'a', size: 1, url } }));
    assert.equal(m.fx_link, undefined, url);
  }
  assert.equal(safeUrl('JAVASCRIPT:alert(1)'), '');
  assert.equal(safeUrl('HTTP://x/"'), 'HTTP://x/&quot;');
});

test('sizeInfo', () => {
  assert.deepEqual([0, 512, 1024, 10 * 1024, 1536 * 1024, 25 * 1024 * 1024].map(sizeInfo), ['0 Б', '512 Б', '1 КБ', '10 КБ', '1,5 МБ', '25 МБ']);
});

test('visitor message rendered at once', () => {
  const m = visitorMessage('a < b', 'u9', null);
  assert.deepEqual([m.text, m.sender, m.source, m.from, m.uid, m.chat_id, m.message_id], ['a &lt; b', 'visitor', 'Посетитель', 'Посетитель', 'u9', null, null]);
  assert.ok(Math.abs(m.date - Date.now() / 1000) < 5);
  const a = newUid();
  assert.match(a, /^v[0-9a-z]{10,}$/);
  assert.notEqual(a, newUid());
  assert.ok(a.length <= 100);
});

// 45 messages arrive as pages of 20, 20, 5 (oldest first); getHistory hands
// out 20, 20, 5 newest first, then false.
test('history pages: newest first, 20 at a time, then false', () => {
  const h = new History();
  const seen = {};
  assert.equal(h.has(true), true, 'before loading, the state says');
  assert.equal(h.has(false), false);
  const page = (from, to) => { const r = []; for (let i = from; i <= to; i++) r.push(toMessage(ev({ message_id: i, seq: i, text: 'm' + i }))); return r; };
  h.add(page(26, 45), true, seen);
  assert.equal(h.before, 26);
  assert.equal(h.wants(), false, 'a full page is buffered');
  const p1 = h.take();
  assert.deepEqual(p1.map((m) => m.message_id), page(26, 45).map((m) => m.message_id).reverse());
  assert.equal(h.wants(), true);
  assert.equal(h.has(), true);
  h.add(page(6, 25), true, seen);
  h.add(page(1, 5).concat(page(25, 25)), false, seen); // a repeated id is dropped
  assert.deepEqual(h.take().map((m) => m.message_id)[0], 25);
  const p3 = h.take();
  assert.deepEqual(p3.map((m) => m.message_id), [5, 4, 3, 2, 1]);
  assert.equal(h.take(), false);
  assert.equal(h.has(true), false);
  assert.equal(h.wants(), false);
});

test('typing is sent at most once per 500 ms, the last draft last', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1e6 });
  try {
    const sent = [];
    const t = throttle(500, (v) => sent.push([Date.now() - 1e6, v]));
    t('a');
    t('ab');
    t('abc');
    mock.timers.tick(200);
    t('abcd');
    assert.deepEqual(sent, [[0, 'a']]);
    mock.timers.tick(300);
    assert.deepEqual(sent, [[0, 'a'], [500, 'abcd']]);
    mock.timers.tick(100);
    t('abcde');
    mock.timers.tick(399);
    assert.equal(sent.length, 2);
    mock.timers.tick(1);
    assert.deepEqual(sent[2], [1000, 'abcde']);
    mock.timers.tick(2000);
    t('x');
    assert.deepEqual(sent[3], [3000, 'x']);
  } finally {
    mock.timers.reset();
  }
});

// ---- the default chat templates ----

const widgets = path.join(ui, '..', 'widgets', 'consultant');
const tpl = (name) => fs.readFileSync(path.join(widgets, name + '.html'), 'utf8');
const C = consts('https://cmg.example', '');
globalThis.window.Comagic = { UI: { C, toTimeString: () => '12:34' }, getDeviceType: () => 'desktop', storage: { getItem: () => null } };

test('message template: escaped once, links only http(s)', () => {
  const op = toMessage(ev({ text: XSS, operator: { name: XSS, avatar: 'javascript:alert(1)' } }));
  const html = render(tpl('consultant_chat_message'), op);
  assert.ok(html.includes('<p class="cmgd-msg__bubble">' + ESCAPED + '</p>'), html);
  assert.ok(html.includes('<span class="cmgd-msg__from">' + ESCAPED + '</span>'));
  assert.ok(!html.includes('&amp;lt;'), 'escaped twice');
  assert.ok(!/<img src=x/.test(html));
  assert.ok(html.includes('src="https://cmg.example/static/widgets/operator.svg"'), 'a bad avatar falls back to ours');
  const file = toMessage(ev({ kind: 'file', sender: 'visitor', file: { name: XSS, size: 2048, url: 'https://h.example/f?a=1&b=2' } }));
  const fh = render(tpl('consultant_chat_message'), file);
  assert.ok(fh.includes('href="https://h.example/f?a=1&amp;b=2"'), fh);
  assert.ok(fh.includes(ESCAPED + '<small>2 КБ</small>'));
  assert.ok(fh.includes('cmgd-msg--visitor') && !fh.includes('cmgd-msg__avatar'));
  const sys = render(tpl('consultant_chat_message'), toMessage(ev({ kind: 'system', text: 'x' })));
  assert.ok(sys.includes('cmgd-msg--system') && !sys.includes('<time'));
});

test('bot template: each kind renders its form', () => {
  const t = tpl('consultant_chat_bot');
  const vcard = render(t, { bot: 'vcard', fields: [{ name: 'name', title: 'Как вас зовут? ' + XSS }, { name: 'email' }, { name: 'phone' }] });
  assert.ok(vcard.includes('c-name="name" c-validator="required"'), vcard);
  assert.ok(vcard.includes('c-name="email" c-validator="required email"'));
  assert.ok(vcard.includes('c-name="phone" c-validator="required phone"') && vcard.includes('c-mask="+7 (___) ___-__-__"'));
  assert.ok(vcard.includes('Как вас зовут? ' + ESCAPED) && !vcard.includes('<img src=x'));
  assert.ok(vcard.includes(C.START_CHAT_TEXT) && vcard.includes(C.VCARD_TEXT));
  const mail = render(t, { bot: 'email' });
  assert.ok(mail.includes('c-name="email" c-validator="required email"') && mail.includes(C.MESSAGES_SETTINGS.email.buttonText));
  const rating = render(t, { bot: 'rating' });
  assert.equal((rating.match(/c-ref="star"/g) || []).length, 5);
  const text = render(t, { bot: 'text', text: XSS, button: 'Оставить заявку' });
  assert.ok(text.includes('<p>' + ESCAPED + '</p>') && text.includes('c-ref="action"'));
  assert.ok(!render(t, { bot: 'text', text: 'x' }).includes('c-ref="action"'));
});

test('chat window template: reference settings, groups, file transfer', () => {
  // The chat part of reference/widget-settings/consultant.desktop.json.
  const settings = {
    common: { banner_color: '43A400' },
    offline_message: { title: 'Отправить заявку', h_position: 'right', v_position: 'bottom', is_visible: true },
    chat: {
      group_title: null, allowed_groups: null, is_file_transfer: true, title: 'Задать вопрос в чат', fields: null,
      is_consultant_operator_rating: true, is_animation_enabled: false, h_position: 'right', v_position: 'bottom', is_visible: false,
      retention: { is_alternate_communication_way_enabled: true, alternate_communication_way_timeout: 30, alternate_communication_way: 'chat',
        messages: [{ timeout: 20, text: 'Оператор ответит Вам через несколько секунд.' }] },
    },
  };
  const data = (s) => Object.assign({}, s, { settings: s });
  let html = render(tpl('consultant_chat'), data(settings));
  assert.ok(html.includes('Задать вопрос в чат') && html.includes('c-ref="file"') && html.includes('accept=".jpg,.jpeg,'));
  assert.ok(html.includes('c-ref="rate"') && !html.includes('c-ref="groups"'));
  settings.chat.allowed_groups = [{ id: 3, name: XSS }];
  settings.chat.is_file_transfer = false;
  settings.chat.is_consultant_operator_rating = false;
  html = render(tpl('consultant_chat'), data(settings));
  assert.ok(html.includes('data-group="3">' + ESCAPED + '</button>'), html);
  assert.ok(!html.includes('c-ref="file"') && !html.includes('c-ref="rate"'));
  const rack = render(tpl('consultant_rack'), data(settings));
  assert.ok(rack.includes('data-channel="chat"') && rack.includes('data-channel="offline_message"'));
  const label = render(tpl('consultant_label'), data(settings));
  assert.ok(label.includes('c-ref="counter"'));
});
