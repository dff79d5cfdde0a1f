// The operator websocket (/ws/operator, api/asyncapi.yaml): one connection,
// commands with ids answered by replies, reconnects with a growing delay
// (1 s doubling to 30 s, with jitter) and a visible state.

export class Conn {
  /**
   * handlers: frame(f) for every frame; state(s, info) with s one of
   * connecting, connected, reconnecting, stopped; lost() when the server
   * closed with 4001 (token no longer valid); opened() after every open.
   */
  constructor(url, handlers) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.attempt = 0;
    this.nextID = 1;
    this.pending = new Map();
    this.stopped = true;
    this.timer = 0;
    this.state = 'stopped';
    this.retryAt = 0;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.setState('connected');
      if (this.h.opened) this.h.opened();
    };
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      if (!f || typeof f !== 'object') return;
      if (f.type === 'reply' && f.id !== undefined && this.pending.has(f.id)) {
        const resolve = this.pending.get(f.id);
        this.pending.delete(f.id);
        resolve(f);
      }
      this.h.frame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending();
      if (this.stopped) return;
      if (e.code === 4001) {
        this.stop();
        this.h.lost();
        return;
      }
      this.retry(opened);
    };
  }

  failPending() {
    const p = this.pending;
    this.pending = new Map();
    for (const resolve of p.values()) resolve({ type: 'reply', ok: false, error: { code: 'unavailable', message: 'connection lost' } });
  }

  retry(wasOpen) {
    const base = Math.min(30000, 1000 * Math.pow(2, this.attempt));
    this.attempt++;
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting');
    this.timer = setTimeout(() => this.open(), delay);
    if (!wasOpen && this.h.failed) this.h.failed();
  }

  /** now reconnects at once (the "retry now" button). */
  now() {
    if (this.state === 'reconnecting' && !this.ws) this.open();
  }

  setState(s) {
    this.state = s;
    this.h.state(s, this);
  }

  /** send sends a frame; false when the socket is not open. */
  send(f) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(f));
    return true;
  }

  /** call sends a command with an id and resolves with its reply (ok false when the connection is down). */
  call(f) {
    return new Promise((resolve) => {
      const id = 'w' + this.nextID++;
      const frame = Object.assign({}, f, { id });
      if (!this.send(frame)) {
        resolve({ type: 'reply', id, ok: false, error: { code: 'unavailable', message: 'not connected' } });
        return;
      }
      this.pending.set(id, resolve);
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    this.failPending();
    if (ws) try { ws.close(1000); } catch (e) { /* closing */ }
    this.setState('stopped');
  }
}
