// HTTP calls of the documented operator API (api/openapi.yaml). The token is
// the HttpOnly comagicd_operator cookie that POST /api/operator/login sets:
// the page never sees it.

/** APIError is a failed answer: code, message and field of the API's error shape. */
export class APIError extends Error {
  constructor(status, err) {
    super((err && err.message) || 'HTTP ' + status);
    this.status = status;
    this.code = (err && err.code) || (status === 0 ? 'unavailable' : 'internal');
    this.field = err && err.field;
  }
}

let onUnauthorized = () => {};

/** whenUnauthorized sets what happens when an answer says the token is gone. */
export function whenUnauthorized(fn) { onUnauthorized = fn; }

/** call sends a request and answers the decoded JSON; it throws APIError. */
export async function call(method, path, body, opts) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, { code: 'unavailable', message: String(e && e.message || e) });
  }
  let data = null;
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok || (data && data.success === false)) {
    const err = new APIError(resp.status, data && data.error);
    if (resp.status === 401 && !(opts && opts.quiet)) onUnauthorized();
    throw err;
  }
  return data || {};
}

/** query builds ?a=b&c=d from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const k of Object.keys(params || {})) {
    const v = params[k];
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const login = (login, password) => call('POST', '/api/operator/login', { login, password }, { quiet: true });
export const logout = () => call('POST', '/api/operator/logout', undefined, { quiet: true });
export const me = () => call('GET', '/api/operator/me', undefined, { quiet: true });
export const sendFile = (chatID, file) => {
  const fd = new FormData();
  fd.append('file', file, file.name);
  return call('POST', '/api/chats/' + encodeURIComponent(chatID) + '/files', fd);
};
