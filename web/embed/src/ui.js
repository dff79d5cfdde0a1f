// The core's part of Comagic.UI: the view-controller registry, page events
// (Comagic.on) and the lazy loader. The framework itself (widgets, templates,
// plugins) and the default widgets live in /static/widgets/ and are fetched
// only when the bootstrap says that a widget is enabled on this page.

import { leadAction, S, whenReady } from './core.js';
import { callback } from './sitephone.js';
import { storage } from './storage.js';
import { doc, errMsg, hasOwn, invoke, warn } from './util.js';

/** VCS are the names of the view controllers. */
export const VCS = ['consultant', 'sitephone', 'call_generator', 'offline_message_generator', 'personal_form'];

const events = {};

/** on subscribes fn to a page event (Comagic.on). */
export function on(name, fn) {
  if (typeof fn === 'function') (events[name] = events[name] || []).push(fn);
}

/** un unsubscribes fn (or every handler without fn) from a page event. */
export function un(name, fn) {
  const l = events[name] || [];
  for (let i = l.length - 1; i >= 0; i--) if (l[i] === fn || fn === undefined) l.splice(i, 1);
}

/** emit calls the handlers of a page event with arg. */
export function emit(name, arg) {
  const l = (events[name] || []).slice();
  for (let i = 0; i < l.length; i++) invoke(l[i], arg);
}

// env is shared with the framework (ui.js) through the hidden Comagic.UI._env.
const env = {
  S: S,
  reg: {}, // view controller name -> fn(settings, tpls)
  hooks: {}, // page method name -> implementation set by a widget
  pending: {}, // page method name -> arguments of a call made before its hook existed
  emit: emit,
  storage: storage,
  onreg: null, // set by the framework: called with the name on each registration
  leadAction: leadAction, // records a lead form's show, submit or cancel
  // callback(params, source, values, cb) orders a callback (sitephone.js):
  // source is sitephone, consultant_sitephone or call_generator.
  callback: callback,
};

/** enabled reports whether the bootstrap enabled view controller vc on this page. */
export const enabled = (vc) => !S.cfg.widgetsOff && !!S.settings && hasOwn(S.settings, vc) && S.settings[vc] != null;

const NOT_LOADED = 'the widget framework (Comagic.UI) is not loaded: no widget is enabled on this page, or it is still loading';
const notYet = (name) => function () { warn('Comagic.UI.' + name + '(): ' + NOT_LOADED); return null; };

/** UI is window.Comagic.UI until the framework replaces its methods. */
export const UI = {
  registerViewController(name, fn) {
    if (VCS.indexOf(name) < 0) return warn('registerViewController: unknown view controller "' + name + '"; use one of ' + VCS.join(', '));
    if (typeof fn !== 'function') return warn('registerViewController("' + name + '", fn): fn must be a function');
    env.reg[name] = fn;
    if (env.onreg) env.onreg(name);
  },
  createWidget: notYet('createWidget'),
  getWidget: notYet('getWidget'),
  createObserver: notYet('createObserver'),
  createEl: notYet('createEl'),
};
Object.defineProperty(UI, '_env', { value: env });

/**
 * hook returns a page method (such as openSiteRequestPanel) that a widget of
 * view controller vc implements. Calls made before the widget exists run once
 * it does; when vc is not enabled, off() is called instead.
 */
export function hook(name, vc, off) {
  return function () {
    const args = arguments;
    whenReady((ok) => {
      if (!ok || !enabled(vc)) return off.apply(null, args);
      const h = env.hooks[name];
      if (typeof h === 'function') h.apply(null, args);
      else env.pending[name] = args;
    }, true);
  };
}

/** visitorCard is Comagic.visitorCard: what the visitor told the widgets about themselves. */
export const visitorCard = {
  // emails and phones are lists (the chat's visitor card keeps up to five).
  getItem(field) {
    let c = storage.getItem('visitor_card');
    c = c && typeof c === 'object' ? c : {};
    if (field === 'emails' || field === 'phones') {
      const one = c[field.slice(0, -1)];
      return Array.isArray(c[field]) ? c[field] : one ? [one] : [];
    }
    return hasOwn(c, field) ? c[field] : null;
  },
};

/** startWidgets loads the framework once the bootstrap enabled any widget. */
export function startWidgets() {
  whenReady((ok) => {
    if (!ok || S.cfg.widgetsOff) return;
    let any = false;
    for (let i = 0; i < VCS.length; i++) any = any || enabled(VCS[i]);
    if (!any) return;
    const s = doc.createElement('script');
    s.async = true;
    s.src = S.base + '/static/widgets/ui.js';
    s.onerror = () => warn('cannot load the widget framework from ' + s.src);
    try {
      (doc.head || doc.documentElement).appendChild(s);
    } catch (e) {
      warn('cannot load the widget framework: ' + errMsg(e));
    }
  }, false);
}
