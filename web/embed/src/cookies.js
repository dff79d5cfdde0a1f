// First-party cookies on the site's own domain.

import { doc, w } from './util.js';

const YEAR = 365 * 24 * 3600;

function jar() {
  let raw = '';
  try { raw = doc.cookie || ''; } catch (e) { /* sandboxed document */ }
  return raw ? raw.split(';') : [];
}

/** cookies returns every cookie of the page as [name, value] pairs. */
export function cookies() {
  const out = [];
  const parts = jar();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i].replace(/^\s+/, '');
    const j = p.indexOf('=');
    if (j < 0) continue;
    let v = p.slice(j + 1);
    try { v = decodeURIComponent(v); } catch (e) { /* keep it raw */ }
    out[out.length] = [p.slice(0, j), v];
  }
  return out;
}

/** getCookie returns the value of the named cookie or null. */
export function getCookie(name) {
  const all = cookies();
  for (let i = 0; i < all.length; i++) if (all[i][0] === name) return all[i][1];
  return null;
}

let domain; // undefined: not probed yet; '': host-only cookie

// The widest domain the browser lets us set a cookie on (example.com for
// shop.example.com), found by probing from the shortest suffix up, as the big
// analytics scripts do. IP addresses and single-label hosts get host-only cookies.
function cookieDomain() {
  if (domain !== undefined) return domain;
  domain = '';
  const h = w.location.hostname || '';
  if (h.indexOf('.') < 0 || /^[\d.]+$/.test(h) || h.indexOf(':') >= 0) return domain;
  const parts = h.split('.');
  for (let i = parts.length - 2; i >= 0; i--) {
    const d = parts.slice(i).join('.');
    try {
      doc.cookie = '_cmg_probe=1; path=/; domain=' + d;
      if (getCookie('_cmg_probe') === '1') {
        doc.cookie = '_cmg_probe=; path=/; max-age=0; domain=' + d;
        domain = d;
        break;
      }
    } catch (e) { break; }
  }
  return domain;
}

/** setCookie stores a cookie for about a year on the site's domain. */
export function setCookie(name, value) {
  let c = name + '=' + encodeURIComponent(value) + '; path=/; max-age=' + YEAR + '; samesite=lax';
  const d = cookieDomain();
  if (d) c += '; domain=' + d;
  if (w.location.protocol === 'https:') c += '; secure';
  try { doc.cookie = c; } catch (e) { /* cookies disabled */ }
}
