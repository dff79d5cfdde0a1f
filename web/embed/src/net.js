// HTTP to the comagicd server. Requests are "simple" CORS requests (POST with a
// text/plain body) so the browser sends no preflight.

import { decode, encode } from './json.js';
import { later } from './util.js';

const STATUS_TEXT = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** MAX_TRIES bounds the attempts of a retried (non-interactive) request. */
export const MAX_TRIES = 6;

/** retryDelay is the wait before attempt n+1: 1 s, 2 s, 4 s … capped at 30 s, ±25 % jitter. */
export const retryDelay = (n) => Math.min(30000, 1000 * Math.pow(2, n)) * (0.75 + Math.random() / 2);

const transient = (st) => st === 0 || st === 408 || st === 429 || st >= 500;

/**
 * post sends body as JSON to url and calls done({status, statusText, text, data})
 * exactly once; data is the parsed answer or null. With retry, network errors,
 * timeouts, 429 and 5xx answers are retried with exponential backoff and
 * onRetry() is called before each wait.
 */
export function post(url, body, retry, done, onRetry) {
  const payload = encode(body);
  let tries = 0;
  function attempt() {
    tries++;
    let xhr;
    let fired = false;
    const finish = () => {
      if (fired) return;
      fired = true;
      let st = 0;
      let text = '';
      try { st = xhr.status || 0; text = xhr.responseText || ''; } catch (e) { /* aborted */ }
      if (retry && transient(st) && tries < MAX_TRIES) {
        if (onRetry) onRetry(st);
        later(attempt, retryDelay(tries - 1));
        return;
      }
      let data = null;
      try { data = text ? decode(text) : null; } catch (e) { data = null; }
      let stText = '';
      try { stText = xhr.statusText || ''; } catch (e) { /* ignore */ }
      done({ status: st, statusText: stText || STATUS_TEXT[st] || '', text: text, data: data });
    };
    try {
      xhr = new XMLHttpRequest();
      xhr.open('POST', url, true);
      xhr.setRequestHeader('Content-Type', 'text/plain;charset=UTF-8');
      xhr.timeout = 20000;
      xhr.onloadend = finish;
      xhr.send(payload);
    } catch (e) {
      later(finish);
    }
  }
  attempt();
}
