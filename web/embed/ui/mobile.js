// Comagic.UI.Mobile: what the mobile view controllers use on a phone.
//
// form() / unform() switch the page into and out of full-size mode, in which
// a widget takes the whole screen: the page gets a device-width viewport (so
// a page without a viewport meta tag, laid out 980 px wide and zoomed out,
// shows the widget at its real size) and stops scrolling behind it;
// isFullSizeMode() reports the mode. form(widget) also stretches that widget's
// element over the screen.
//
// updateLabelStyles(el, styles, _, position, margins) sizes and places a label
// in screen units: 1 is a hundredth of the shorter side of what the visitor
// sees (the visual viewport), so a label looks the same on any page zoom.
// styles are CSS properties with numbers in those units (width, height,
// fontSize, top, borderRadius, padding…); position is {top: 'top'|'middle'|
// 'middle-fixed'|'bottom', left: 'left'|'right'} and margins {top, left} are
// distances from that corner, in units. Labels are placed again when the
// visitor zooms, scrolls or turns the phone.

const FULL_VIEWPORT = 'width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no';
const UNITLESS = { opacity: 1, zIndex: 1, flexGrow: 1, flexShrink: 1, order: 1, fontWeight: 1 };

export function mobile(S) {
  let full = false; // form() without a widget
  let formed = 0; // widgets stretched by form(widget)
  let saved = null; // the page's viewport meta while in full-size mode
  const placed = []; // elements placed by updateLabelStyles, with their arguments

  const elOf = (w) => (w && w.nodeType === 1 ? w : w && w.el && w.el.nodeType === 1 ? w.el : null);
  const active = () => full || formed > 0;

  function enter() {
    if (saved) return;
    let meta = document.querySelector('meta[name="viewport"]');
    const ours = !meta || meta.hasAttribute('data-comagic');
    saved = { meta: meta, content: meta && !ours ? meta.getAttribute('content') : null, created: ours };
    if (!meta) {
      meta = document.createElement('meta');
      meta.name = 'viewport';
      meta.setAttribute('data-comagic', '');
      (document.head || document.documentElement).appendChild(meta);
      saved.meta = meta;
    }
    meta.setAttribute('content', FULL_VIEWPORT);
    document.documentElement.classList.add('comagic-mobile-locked');
  }

  function leave() {
    if (!saved || active()) return;
    // A page without a viewport tag gets ours back with empty content: the
    // browser keeps the last viewport when the tag is removed, but an empty
    // one restores the page's own (980 px, zoomed out) layout.
    if (saved.created || saved.content === null) saved.meta.setAttribute('content', '');
    else saved.meta.setAttribute('content', saved.content);
    saved = null;
    document.documentElement.classList.remove('comagic-mobile-locked');
    relayout();
  }

  // unit is a hundredth of the shorter side of the visual viewport, in CSS px.
  function unit() {
    const vv = window.visualViewport;
    const w = vv ? vv.width : window.innerWidth;
    const h = vv ? vv.height : window.innerHeight;
    return Math.min(w, h) / 100;
  }

  function cssValue(k, v, u) {
    if (typeof v !== 'number' || UNITLESS[k]) return String(v);
    return Math.round(v * u * 100) / 100 + 'px';
  }

  function apply(el, styles, position, margins) {
    const u = unit();
    if (styles && typeof styles === 'object') {
      for (const k in styles) {
        if (Object.prototype.hasOwnProperty.call(styles, k) && styles[k] != null) el.style[k] = cssValue(k, styles[k], u);
      }
    }
    if (!position || typeof position !== 'object') return;
    const vv = window.visualViewport || { offsetTop: 0, offsetLeft: 0, width: window.innerWidth, height: window.innerHeight };
    const de = document.documentElement;
    const m = margins || {};
    const mt = (+m.top || 0) * u;
    const ml = (+m.left || 0) * u;
    const s = el.style;
    s.position = 'fixed';
    const v = position.top;
    if (v === 'bottom') {
      s.top = 'auto';
      s.bottom = Math.round(de.clientHeight - (vv.offsetTop + vv.height) + mt) + 'px';
    } else if (v === 'middle' || v === 'middle-fixed') {
      const h = styles && typeof styles.height === 'number' ? styles.height * u : el.offsetHeight;
      s.bottom = 'auto';
      s.top = Math.round(vv.offsetTop + vv.height / 2 - (v === 'middle' ? h / 2 : 0) + mt) + 'px';
    } else {
      s.bottom = 'auto';
      s.top = Math.round(vv.offsetTop + mt) + 'px';
    }
    if (position.left === 'left') {
      s.right = 'auto';
      s.left = Math.round(vv.offsetLeft + ml) + 'px';
    } else {
      s.left = 'auto';
      s.right = Math.round(de.clientWidth - (vv.offsetLeft + vv.width) + ml) + 'px';
    }
  }

  function relayout() {
    for (let i = placed.length - 1; i >= 0; i--) {
      const p = placed[i];
      if (!p.el.isConnected) placed.splice(i, 1);
      else apply(p.el, p.styles, p.position, p.margins);
    }
  }

  let timer = 0;
  const later = () => { clearTimeout(timer); timer = setTimeout(relayout, 50); };
  if (window.visualViewport) {
    window.visualViewport.addEventListener('resize', later);
    window.visualViewport.addEventListener('scroll', later);
  }
  window.addEventListener('orientationchange', later);

  return {
    form(w) {
      const el = elOf(w);
      if (el) {
        if (el.classList.contains('comagic-mobile-form')) return;
        el.classList.add('comagic-mobile-form');
        formed++;
      } else full = true;
      enter();
    },
    unform(w) {
      const el = elOf(w);
      if (el) {
        if (!el.classList.contains('comagic-mobile-form')) return;
        el.classList.remove('comagic-mobile-form');
        formed = Math.max(0, formed - 1);
      } else full = false;
      leave();
    },
    isFullSizeMode: () => active(),
    /** isPhone tells whether the server saw a phone, or the screen is phone-sized. */
    isPhone: () => S.device === 'mobile' || Math.min(window.innerWidth, window.screen ? window.screen.width : 1e4) <= 480,
    updateLabelStyles(w, styles, _unused, position, margins) {
      const el = elOf(w);
      if (!el) return unit();
      apply(el, styles, position, margins);
      let p = null;
      for (let i = 0; i < placed.length && !p; i++) if (placed[i].el === el) p = placed[i];
      if (!p) placed.push((p = { el: el }));
      if (styles && typeof styles === 'object') p.styles = Object.assign(p.styles || {}, styles);
      if (position && typeof position === 'object') { p.position = position; p.margins = margins; }
      return unit();
    },
  };
}
