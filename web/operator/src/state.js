// The state shared by the screens: the operator, their sites, the websocket,
// and a tiny event bus (on/emit) the screens use to tell each other.

const listeners = {};

export const app = {
  /** me is the operator (employee of hello / login). */
  me: null,
  /** sites are the operator's sites: [{id, site_key, domains}]. */
  sites: [],
  /** conn is the operator websocket (conn.js). */
  conn: null,
  /** view is the screen shown: chats, visitors, requests, callbacks. */
  view: 'chats',
  /** site is the site chosen in the lists (id). */
  site: 0,
};

/** on registers fn for the event name; it returns a function that removes it. */
export function on(name, fn) {
  (listeners[name] = listeners[name] || []).push(fn);
  return () => { listeners[name] = listeners[name].filter((f) => f !== fn); };
}

/** emit calls the listeners of name with the arguments. */
export function emit(name, ...args) {
  for (const fn of (listeners[name] || []).slice()) {
    try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
  }
}

/** siteName is how a site is named in lists: its first domain. */
export function siteName(id) {
  const s = app.sites.find((x) => x.id === id);
  return s ? (s.domains && s.domains[0]) || s.site_key.slice(0, 8) : '#' + id;
}
