// The conformance corpus: templates in the lodash.template syntax, each with
// data variations. tpl.test.mjs renders every template with every data
// object through lodash.template and through our interpreter
// (web/embed/ui/tpl.js) and wants the same output, or both throwing. The
// templates exercise the constructs the vendor's widget templates use, plus
// the rest of the JavaScript the interpreter claims to understand.

const group = (id, name) => ({ id: id, name: name });
const field = (name, title, req) => ({ name: name, title: title, is_required: req });

// form is a settings object shaped like a widget's (our own values).
const form = (over) => Object.assign({
  title: 'Write to us',
  h_position: 'right',
  v_position: 'bottom',
  is_groups_enabled: true,
  group_title: 'Department',
  allowed_groups: [group(1, 'Sales'), group(2, 'Support & "care"')],
  fields: [field('name', 'Your name', false), field('phone', 'Phone', true), field('email', 'Mail', false), field('message', 'Question', true)],
  banner_branding_text: 'Powered',
  banner_branding_url: 'https://example.com/?a=1&b=2',
  widget_link_text: '',
  widget_link_url: null,
  is_animation_enabled: false,
  delayed_call_times: [{ date: 946684800000, times: ['10:00', '10:30'] }, { date: 946771200000, times: [] }],
  is_schedule_active: true,
  button_color: 'ff8800',
  banner_color_mobile: '232323',
  is_image: false,
  image_url: '',
}, over);

export const cases = [
  // ---- output: <%= %>, <%- %>, ${} ----
  {
    name: 'interpolate values',
    tpl: '<p><%= v %></p>|<%=v%>|<%=\n   v %>',
    data: [{ v: 'Hi' }, { v: '' }, { v: null }, { v: undefined }, { v: 0 }, { v: -0 }, { v: false }, { v: 12.5 }, { v: [1, [2, null], 'x'] }, { v: { a: 1 } }, { v: '<b>&"\'`</b>' }, {}],
  },
  {
    name: 'escape values',
    tpl: '<i title="<%- v %>"><%-v%></i>',
    data: [{ v: '<script>alert("x")</script>' }, { v: "it's & `tick`" }, { v: null }, { v: undefined }, { v: -0 }, { v: 0 }, { v: [null, undefined, -0, '<'] }, { v: true }, { v: { toString: () => '<o>' } }, {}],
  },
  {
    name: 'ES ${} interpolation in the text',
    tpl: 'a ${v} b ${ o.k }${v}|$ {v}|${"}"}|\\${v}|{v}|$',
    data: [{ v: 1, o: { k: '<k>' } }, { v: null, o: { k: 0 } }, { v: 'x', o: null }],
  },
  { name: 'ES interpolation spanning a tag', tpl: '${ a <%= b %> }', data: [{ a: 1, b: 2 }] },
  { name: 'ES interpolation with an escaped brace', tpl: '${ "a\\}" }|${a\\}', data: [{ a: 1 }] },
  {
    name: 'object values: valueOf for output tags, toString for print',
    tpl: '<%= o %>|<%- o %>|<%= d %>|<% print(o) %>',
    data: [{ o: { valueOf: () => 7, toString: () => 'str' }, d: new Date(0) }],
  },
  {
    name: 'text is copied verbatim',
    tpl: 'quote \' "double" back\\slash \\n tab\there\r\nline2\u2028ls\u2029ps <%= 1 %> %> stray <% %> end',
    data: [{}],
  },
  { name: 'unterminated tag is text', tpl: 'a <%= v b', data: [{ v: 1 }] },
  { name: 'empty and odd tags', tpl: 'a<% %>b<%  ;  %>c', data: [{}] },
  { name: 'empty interpolation', tpl: '<%= %>', data: [{}] },
  { name: 'empty tag', tpl: '<%=%>', data: [{}] },
  { name: 'empty evaluate tag', tpl: '<%%>x<% 1 %>', data: [{}] },
  { name: 'escape tag with minus expression', tpl: '<%--v%>|<% -v %>|<%= -v %>', data: [{ v: 3 }, { v: '2' }] },

  // ---- conditions ----
  {
    name: 'if / else if / else across tags',
    tpl: '<% if (kind === "a") { %>A<% } else if (kind == 2) { %>TWO<% } else { %>other<% } %>',
    data: [{ kind: 'a' }, { kind: '2' }, { kind: 2 }, { kind: null }, {}],
  },
  {
    name: 'if chains on one field inside a loop (a form builder)',
    tpl: `<form><% (fields || []).forEach(function(field) {
    if (field.name === 'name') { %><input c-name="name" placeholder="<%= field.title %><%=(field.is_required ? "*" : "")%>"><%}
    if (field.name === 'phone') { %><input type="tel" class="<%=(field.is_required ? "required" : "")%>" c-mask="<%=Comagic.UI.C.PHONE_MASK_FORMAT%>"><%}
    if (field.name === 'email') {%><input c-name="email" title="<%= field['title'] %>" class="<%= field['is_required'] ? 'required' : '' %>"><%}
    if (field.name === 'message') {%><textarea><%= field['is_required'] ? '*' : '' %></textarea><%}
})%></form>`,
    data: [form(), form({ fields: null }), form({ fields: [] }), form({ fields: [field('message', '<q>', false), field('other', 'x', true)] })],
  },
  {
    name: 'conditions with && || ! and nested blocks',
    tpl: `<% if (a && b) { %>ab<% } %><% if (a || (b && c)) { %>or<% } %><% if (!a) { %>not<% } else { if (c) { %>c<% } } %>
<%if(a){%>tight<%}%><% if (a) %>no braces<%= 1 %>`,
    data: [{ a: 1, b: 1, c: 0 }, { a: 0, b: 1, c: 1 }, { a: '', b: 0, c: 0 }, { a: [], b: {}, c: 'x' }],
  },
  {
    name: 'ternaries',
    tpl: '<%=(on ? "" : "is-off")%>|<%= on ? \'yes\' : \'no\' %>|<%= n > 1 ? "many" : n === 1 ? "one" : "none" %>|<%= (!on ? "a" : "b") + "-x" %>',
    data: [{ on: true, n: 2 }, { on: false, n: 1 }, { on: 0, n: 0 }, { on: 'x', n: -1 }],
  },
  {
    name: 'values of && and ||',
    tpl: '<%= a && "cls" %>|<%= a || b %>|<%= (c && "x") %>|<%= a ?? b %>',
    data: [{ a: true, b: 'b', c: null }, { a: false, b: 0, c: '' }, { a: 0, b: null, c: 1 }, { a: null, b: undefined, c: undefined }],
  },
  {
    name: 'string comparison against a constant (like a colour check)',
    tpl: '<% if (color === \'232323\') { %>dark<% } else { %>light<% } %>:<% if (color == 232323) { %>loose<% } %>',
    data: [{ color: '232323' }, { color: 232323 }, { color: 'fff' }],
  },

  // ---- loops and callbacks ----
  {
    name: 'forEach with index over groups',
    tpl: `<select><% allowed_groups.forEach(function(group, number) { %>
  <option value="<%=group.id%>" <%= number === 0 ? 'selected' : '' %>><%- group.name %></option><% }); %></select>`,
    data: [form(), form({ allowed_groups: [] }), form({ allowed_groups: null })],
  },
  {
    name: 'nested forEach over dates and times',
    tpl: `<% delayed_call_times.forEach(function(day, i) { %><optgroup label="<%= i %>:<%= new Date(day.date).getUTCDate() %>"><% day.times.forEach(function(time) { %><option><%=time%></option><% }) %></optgroup><% }) %>`,
    data: [form(), form({ delayed_call_times: [] })],
  },
  {
    name: 'forEach with a condition guarding it',
    tpl: '<% if (delayed_call_times && is_schedule_active) { %><% delayed_call_times.forEach(function(t, n) { %>[<%= n %>]<% }) %><% } else { %>none<% } %>',
    data: [form(), form({ is_schedule_active: false }), form({ delayed_call_times: null })],
  },
  {
    name: 'arrow callbacks, map and join',
    tpl: '<%= items.map(x => x * 2).join(", ") %>|<% items.forEach((x, i) => { %><b><%= i %>=<%= x %></b><% }) %>|<%= items.filter(function (x) { return x % 2 }).length %>',
    data: [{ items: [1, 2, 3] }, { items: [] }],
  },
  {
    name: 'for loops',
    tpl: '<% for (var i = 0; i < n; i++) { %><%= i %><% } %>|<%= i %>|<% for (let j = n; j > 0; j -= 2) print(j) %>|<% for (;;) { break } %>',
    data: [{ n: 3 }, { n: 0 }],
  },
  {
    name: 'for-in and for-of',
    tpl: '<% for (var k in o) { %><%= k %>=<%= o[k] %>;<% } %>|<%= k %>|<% for (const v of list) { %>(<%= v %>)<% } %>|<% for (const c of "ab") print(c, "."); %>',
    data: [{ o: { a: 1, b: 'x' }, list: [1, 2] }, { o: {}, list: [] }, { o: null, list: ['z'] }],
  },
  { name: 'for-of over a non-iterable throws', tpl: '<% for (const v of o) { %>x<% } %>', data: [{ o: {} }, { o: null }, { o: 5 }] },
  {
    name: 'while, do-while, break and continue',
    tpl: '<% var i = 0; while (i < 10) { i++; if (i % 2) continue; if (i > 6) break; %><%= i %>,<% } %>|<% do { %>once<% } while (false) %>',
    data: [{}],
  },
  {
    name: 'lodash each over arrays, objects and strings; returning false stops',
    tpl: '<% _.each(c, function (v, k) { %><%= k %>:<%= v %>;<% }) %>|<% _.forEach(c, function (v) { print(v); return false; }) %>',
    data: [{ c: [1, 2] }, { c: { a: 1, b: 2 } }, { c: 'xy' }, { c: null }, { c: 7 }],
  },
  {
    name: 'return inside callbacks',
    tpl: '<% [1, 2, 3].forEach(function (x) { if (x === 2) return; %><%= x %><% }) %>',
    data: [{}],
  },

  // ---- variables and scope ----
  { name: 'var is function-scoped', tpl: '<% if (a) { var y = 1 } %><%= y %>', data: [{ a: true }, { a: false }] },
  { name: 'var is hoisted', tpl: '<%= typeof y %>|<%= y %><% var y = 2 %><%= y %>', data: [{}] },
  {
    name: 'var then += in an output tag',
    tpl: "<% var rules = 'phone' %><% if (req) { %><%- rules += ' required' %><% } %>|<%- rules %>|<% var ph = 'Tel' %><%- ph += \"*\" %>",
    data: [{ req: true }, { req: false }],
  },
  { name: 'data shadows template vars (with)', tpl: '<% var title = "mine" %><%= title %>|<% var x; %><%= x %>', data: [{ title: 'data', x: 5 }, { title: null }] },
  { name: 'let and const are block-scoped', tpl: '<% let a = 1; { let a = 2; %><%= a %><% } %><%= a %><% const b = [a]; b.push(3) %><%= b %>', data: [{}] },
  { name: 'let before its declaration throws', tpl: '<%= a %><% let a = 1 %>', data: [{}, { a: 2 }] },
  { name: 'let in its own initializer throws', tpl: '<% { let a = a + 1 } %>x', data: [{ a: 1 }] },
  { name: 'assigning a const throws', tpl: '<% const k = 1; try { k = 2 } catch (e) { print(e instanceof TypeError) } %><%= k %>', data: [{}] },
  { name: 'a line break before => is a syntax error', tpl: '<% [1].forEach((v)\n=> { print(v) }) %>', data: [{}] },
  { name: '-x ** y is a syntax error', tpl: '<%= -2 ** 2 %>|<%= (-2) ** 2 %>', data: [{}] },
  { name: 'division after a postfix increment', tpl: '<% var i = 4 %><%= i++ / 2 %>|<%= i-- /2/ 1 %>', data: [{}] },
  { name: 'missing variables throw', tpl: '<%= nothing %>', data: [{}, { nothing: 0 }] },
  { name: 'missing variable in a condition throws', tpl: '<% if (flag) { %>x<% } %>', data: [{}, { flag: 1 }] },
  { name: 'typeof guards a missing variable', tpl: '<%= typeof flag === "undefined" ? "none" : flag %>', data: [{}, { flag: 'f' }] },
  { name: 'obj is the data', tpl: '<%= obj.title || "untitled" %>|<%= obj === obj %>', data: [{}, { title: 'T' }] },
  { name: 'assignment to an undeclared name', tpl: '<% tmp1 = 5 %><%= tmp1 * 2 %>', data: [{}] },
  { name: 'the data is updated by assignments', tpl: '<% title = title + "!"; list.push(3); o.k = 1; var n = 9 %><%= title %>', data: [{ title: 'a', list: [1], o: {}, n: 1 }] },
  { name: 'null data', tpl: 'x<%= typeof obj %>', data: [null, undefined] },
  {
    name: 'closures and function declarations',
    tpl: `<% function row(label, v) { %><tr><td><%- label %></td><td><%= v %></td></tr><% } %><% row("a", 1); row("<b>", two()) %><% function two() { return 2 } %>
<% var add = function (a) { return function (b) { return a + b } }; %><%= add(1)(2) %>|<%= (function fact(n) { return n < 2 ? 1 : n * fact(n - 1) })(5) %>`,
    data: [{}],
  },
  { name: 'arguments and this in methods', tpl: '<% var o = { n: 2, f: function () { return this.n + arguments.length } }; %><%= o.f(1, 2) %>|<%= o.f.call({ n: 10 }) %>', data: [{}] },
  { name: 'object methods and shorthand', tpl: '<% var n = 1, k = "key"; var o = { n, [k + 2]: 3, m() { return this.n }, "s p": 4, 5: "five" } %><%= JSON.stringify(o) %>|<%= o.m() %>', data: [{}] },

  // ---- print ----
  { name: 'print joins its arguments', tpl: '<% print("a", 1, null, undefined, [2, 3], true) %>|<% print() %>', data: [{}] },
  { name: 'print inside callbacks', tpl: '<% list.forEach(function (x) { print("<", x, ">") }) %>', data: [{ list: [1, 2] }, { list: [] }] },
  { name: 'print inside an output tag is overwritten', tpl: '<% %>a<%= print("lost") %>b<%= "c" %>', data: [{}] },
  { name: 'print without evaluate tags is undefined', tpl: '<%= print("x") %>', data: [{}] },
  { name: 'print from a function called by an output tag', tpl: '<% function p() { print("q"); return "r" } %>[<%= p() %>]<% p() %>', data: [{}] },

  // ---- members and calls ----
  {
    name: 'string and array methods',
    tpl: '<%= s.length %>|<%= s.toUpperCase() %>|<%= s.replace(/o/g, "0") %>|<%= s.split(" ").reverse().join("_") %>|<%= s.trim().slice(1, 3) %>|<%= s.indexOf("o") %>|<%= list.length %>|<%= list.concat([9]).indexOf(9) %>|<%= s.charAt(0) + s.substr(-2) %>',
    data: [{ s: ' hello world ', list: [] }, { s: 'o', list: [1] }],
  },
  { name: 'methods of missing values throw', tpl: '<%= s.toUpperCase() %>', data: [{ s: null }, { s: undefined }, { s: 5 }] },
  { name: 'nested objects and brackets', tpl: '<%= chat["h_position"] %>-<%= chat.v_position %>|<%= chat.groups[1].name %>|<%= chat["groups"][0]["id"] %>', data: [{ chat: { h_position: 'left', v_position: 'top', groups: [group(1, 'a'), group(2, 'b')] } }, { chat: {} }] },
  { name: 'optional chaining', tpl: '<%= a?.b?.c %>|<%= a?.b.c %>|<%= a?.["b"] %>|<%= f?.() %>|<%= (a?.b)?.c %>', data: [{ a: null, f: null }, { a: { b: { c: 1 } }, f: () => 2 }, { a: { b: null }, f: undefined }] },
  { name: 'calling a non-function throws', tpl: '<%= a.b() %>', data: [{ a: {} }, { a: { b: 1 } }] },
  {
    name: 'Comagic calls and constants',
    tpl: `<span><%=Comagic.UI.C.PLACEHOLDERS["phone"]%></span><%=Comagic.UI.C.SEND_TEXT%>|<%= Comagic.UI.getContrastColor(button_color) %>|<%=operator.avatar || Comagic.UI.C.IMAGES.OPERATOR%>
<%=Comagic.UI.toTimeString(new Date(date * 1000))%>|<%=Comagic.UI.toTimeString(new Date())%>|<%=Comagic.UI.toDateString(new Date(day.date))%>
<%=(Comagic.UI.isIE ? "" : "anim")%>|<%=Comagic.getDeviceType()%>|<%=(Comagic.storage.getItem("_snd") && "muted") %>`,
    data: [{ button_color: 'ffffff', operator: { avatar: '' }, date: 1e9, day: { date: 946684800000 } }, { button_color: '000000', operator: { avatar: 'a.png' }, date: '1000', day: { date: 'x' } }],
  },
  {
    name: 'visitor card lookups',
    tpl: `<% fields.forEach(function(field) { %><% if (field.name === 'name' && !Comagic.visitorCard.getItem('name')) { %>name?<%}
      if (field.name === 'email' && !Comagic.visitorCard.getItem('emails').length) {%>email?<%}
      if (field.name === 'phone' && !Comagic.visitorCard.getItem('phones').length) { %>phone?<% } %><% }) %>`,
    data: [form()],
  },
  {
    name: 'branding block (ifs on strings)',
    tpl: `<% if (banner_branding_url && banner_branding_text) { %><a href="<%= banner_branding_url %>"><%= banner_branding_text %></a><% } else if (banner_branding_text) { %><%=
      banner_branding_text %><% } %><% if (widget_link_text || (delayed_call_times && is_schedule_active)) { %>link<% } %>`,
    data: [form(), form({ banner_branding_url: '' }), form({ banner_branding_text: '', is_schedule_active: false })],
  },
  {
    name: 'Dates',
    tpl: '<%= new Date(0).toISOString() %>|<%= new Date(2020, 1, 2, 3).getMonth() %>|<%= new Date("x").getTime() %>|<%= Date.UTC(2000, 0, 1) %>|<%= new Date(d) instanceof Date %>|<%= typeof Date.now() %>',
    data: [{ d: 0 }],
  },

  // ---- operators and literals ----
  {
    name: 'arithmetic and comparison',
    tpl: '<%= a + b %>|<%= a - b %>|<%= a * b %>|<%= a / b %>|<%= a % b %>|<%= a ** 2 %>|<%= a + "" + b %>|<%= a < b %>|<%= a >= b %>|<%= a == b %>|<%= a !== b %>|<%= -a + +b %>|<%= ~a %>|<%= a & b %>|<%= a | b %>|<%= a ^ b %>|<%= a << 2 %>|<%= a >> 1 %>|<%= -a >>> 28 %>',
    data: [{ a: 7, b: 2 }, { a: '7', b: '2' }, { a: null, b: undefined }, { a: 1.5, b: 0 }, { a: [], b: {} }],
  },
  { name: 'precedence', tpl: '<%= 1 + 2 * 3 - 4 / 2 %>|<%= 2 ** 3 ** 2 %>|<%= (1 + 2) * 3 %>|<%= 1 < 2 === true %>|<%= 1 || 0 && 0 %>|<%= !1 + 1 %>|<%= 1 + 2 + "3" + 4 + 5 %>|<%= 3 & 1 | 4 ^ 6 %>|<%= 1 << 2 + 1 %>', data: [{}] },
  { name: 'typeof, void, delete, in, instanceof, comma', tpl: '<%= typeof a %>|<%= typeof f %>|<%= void 0 %>|<%= delete o.k %><%= "k" in o %><%= "z" in o %>|<%= list instanceof Array %>|<%= (1, 2) %>', data: [{ a: 's', f: () => 1, o: { k: 1, z: 2 }, list: [] }] },
  { name: 'Object', tpl: '<%= o instanceof Object %>|<%= s instanceof Object %>|<%= Object(s) instanceof String %>|<%= JSON.stringify(Object.assign({}, o, { b: 2 })) %>|<%= Object.entries(o) %>|<%= Object.values(o) %>|<%= Object.is(NaN, NaN) %>|<%= typeof new Object() %>', data: [{ o: { a: 1 }, s: 'x' }] },
  { name: 'in on a primitive throws', tpl: '<%= "k" in s %>', data: [{ s: 'str' }] },
  { name: 'increments and compound assignment', tpl: '<% var i = 1, o = { n: 1 }, l = [5] %><%= i++ %><%= i %><%= ++i %><%= i-- %><%= --i %>|<% o.n += 2; o.n *= 3; o.n -= 1; o.n /= 2; o.n %= 3; o.n **= 2; l[0] <<= 1; l[0] |= 1 %><%= o.n %>,<%= l %>|<% var z = null; z ??= 4; z ||= 5; z &&= 6 %><%= z %>', data: [{}] },
  { name: 'numbers', tpl: '<%= 0x1F %> <%= 1e3 %> <%= .5 %> <%= 2.50 %> <%= 0b101 %> <%= 0o17 %> <%= 1/0 %> <%= -1/0 %> <%= 0/0 %> <%= 5..toFixed(1) %>', data: [{}] },
  { name: 'string escapes', tpl: '<%= "a\\n\\tb\\\\c\\"d\'e\\x41\\u0042\\u{1F600}\\0".length %>|<%= \'it\\\'s\' %>|<%= "line\\\ncontinued" %>', data: [{}] },
  { name: 'regular expressions', tpl: '<%= /a[/\\]]b/.test(s) %>|<%= s.replace(/(\\w+)@(\\w+)/gi, "$2 at $1") %>|<%= s.split(/[,;]\\s*/).length %>|<%= s.match(/\\d+/g) %>|<%= 4 / 2 / 1 %>|<% var re = /x/g; %><%= re.global %>', data: [{ s: 'USER@host, a/b; a]b 12 34' }] },
  { name: 'template literals', tpl: '<%= `a${x}b${ `n${x + 1}` }c` %>|<%= `multi\nline \\` tick ${ {k: x}.k }` %>|<%= `${[1, 2]}` %>', data: [{ x: 1 }, { x: null }] },
  { name: 'arrays and objects', tpl: '<%= [1, "a", null, [2]].length %>|<%= JSON.stringify({ a: [1, { b: "c" }], "d-e": true }) %>|<%= [] + [] %>|<%= {} + "" %>', data: [{}] },
  { name: 'globals', tpl: '<%= Math.max(1, 3, 2) %>|<%= Math.round(2.5) %>|<%= parseInt("42px", 10) %>|<%= parseFloat("1.5e1") %>|<%= isNaN("x") %>|<%= String(12).length %>|<%= Number("7") + 1 %>|<%= Boolean("") %>|<%= encodeURIComponent("a b&") %>|<%= Array.isArray([]) %>|<%= Object.keys({ a: 1, b: 2 }) %>|<%= JSON.parse("[1]")[0] %>|<%= undefined === void 0 %>|<%= NaN !== NaN %>|<%= Infinity %>', data: [{}] },

  // ---- statements ----
  {
    name: 'switch with fallthrough and default',
    tpl: '<% switch (v) { case 1: %>one<% case 2: %>two<% break; case "3": %>three<% break; default: %>other<% } %>|<% switch (v) { case 9: print(9) } %>',
    data: [{ v: 1 }, { v: 2 }, { v: '3' }, { v: 3 }, { v: null }],
  },
  {
    name: 'try, catch, finally and throw',
    tpl: '<% try { %>a<% x.y; %>b<% } catch (e) { %>caught <%= e instanceof TypeError %><% } finally { %> fin<% } %>|<% try { throw new Error("boom") } catch (e) { print(e.message) } %>|<% try { throw "s" } catch { print("no binding") } %>',
    data: [{ x: null }, { x: {} }],
  },
  { name: 'return at the top ends the template with its value', tpl: 'a<% if (stop) return %>b<% if (stop === 2) return "r" %>c', data: [{ stop: 0 }, { stop: 1 }, { stop: 2 }] },
  { name: 'uncaught throw', tpl: '<% throw new Error("stop") %>', data: [{}] },
  { name: 'automatic semicolons', tpl: '<% var a = 1\nvar b = 2\nprint(a + b)\n%><% function f() { return\n 5 } %><%= typeof f() %>|<% var c = a\n(function () { return 3 }) %>', data: [{}] },
  { name: 'a line comment at the end of an evaluate tag', tpl: '<% var a = 1 // set a %>x<%= a %>|<% if (!a) // never %>shown<%= a %>', data: [{}] },

  // ---- comments and whitespace ----
  {
    name: 'comments',
    tpl: '<% /* block */ %>a<% // line %>b<%= v /* inline */ %>c<!-- html <%= v %> --><%\n// first\nvar w = 2 // second\n/* multi\nline */\n%><%= w %>',
    data: [{ v: 1 }],
  },
  { name: 'line comment inside an output tag throws', tpl: '<%= v // comment %>', data: [{ v: 1 }] },
  { name: 'line comment then newline inside an output tag', tpl: '<%= v // comment\n %>|<%- v // c\n%>', data: [{ v: 1 }] },
  {
    name: 'newlines and indentation around tags',
    tpl: '\n  <% if (a) { %>\n    <div>\n      <%= a %>\n    </div>\n  <% } %>\n\t\r\n<%\n  if (b) {\n%>B<%\n  }\n%>\n',
    data: [{ a: 'x', b: 1 }, { a: 0, b: 0 }],
  },

  // ---- syntax errors: lodash and we both throw ----
  { name: 'unclosed block', tpl: '<% if (a) { %>x', data: [{ a: 1 }] },
  { name: 'stray brace', tpl: 'x<% } %>', data: [{}] },
  { name: 'two expressions in an output tag', tpl: '<%= a b %>', data: [{ a: 1, b: 2 }] },
  { name: 'two expressions on a line', tpl: '<% a b %>', data: [{ a: 1, b: 2 }] },
  { name: 'statement in an output tag', tpl: '<%= var a = 1 %>', data: [{}] },
  { name: 'assignment to a literal', tpl: '<% 1 = 2 %>', data: [{}] },
  { name: 'else without if', tpl: '<% else { %>x<% } %>', data: [{}] },
  { name: 'else after a semicolon', tpl: '<% if (a) { %>x<% } %><% else { %>y<% } %>', data: [{ a: 1 }] },
  { name: 'keyword as a variable', tpl: '<%= class %>', data: [{}] },
  { name: 'unterminated string', tpl: '<%= "abc %>', data: [{}] },
  { name: 'bad regular expression', tpl: '<%= /(/.test("x") %>', data: [{}] },

  // ---- the lodash subset ----
  {
    name: 'lodash map, filter and iteratee shorthands',
    tpl: '<%= _.map(users, "name") %>|<%= _.map(users, function (u, i) { return i + u.name }) %>|<%= _.filter(users, { active: true }).length %>|<%= _.filter(users, "active").length %>|<%= _.map({ a: 1, b: 2 }, function (v, k) { return k + v }) %>|<%= _.map(null, "x").length %>',
    data: [{ users: [{ name: 'ann', active: true }, { name: 'bob', active: false }, { name: 'cy', active: 1 }] }, { users: [] }],
  },
  {
    name: 'lodash isEmpty',
    tpl: '<%= _.isEmpty(v) %>',
    data: [{ v: null }, { v: undefined }, { v: '' }, { v: 'a' }, { v: [] }, { v: [0] }, { v: {} }, { v: { a: undefined } }, { v: 0 }, { v: 5 }, { v: true }, { v: { length: 0 } }],
  },
  {
    name: 'lodash has, get and keys',
    tpl: '<%= _.has(o, "a") %><%= _.has(o, "a.b") %><%= _.has(o, ["a", "b"]) %><%= _.has(o, "zz") %><%= _.has(null, "a") %>|<%= _.get(o, "a.b") %>|<%= _.get(o, "list[1].n") %>|<%= _.get(o, ["a", "b"]) %>|<%= _.get(o, "a.x.y", "dflt") %>|<%= _.get(o, "dot.key") %>|<%= _.get(null, "a", 3) %>|<%= _.get(o, \'m["q"]\') %>|<%= _.keys(o) %>|<%= _.keys("ab") %>|<%= _.keys(null).length %>',
    data: [{ o: { a: { b: 2 }, list: [{ n: 1 }, { n: 2 }], 'dot.key': 'dk', m: { q: 'Q' } } }, { o: {} }],
  },
  { name: 'lodash escape', tpl: '<%= _.escape(v) %>', data: [{ v: '<a href="x">\'&`</a>' }, { v: null }, { v: 5 }, { v: [1, '<'] }] },
];
