package chatws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Limits of a connection (api/asyncapi.yaml).
const (
	maxFrame   = 64 << 10
	sendQueue  = 256
	pingPeriod = 25 * time.Second
	pongWait   = 60 * time.Second
	writeWait  = 10 * time.Second
	frameRate  = 20 // frames per second, sustained
	frameBurst = 40
	closeSlow  = "slow consumer"
	// closeUnauthorized ends an operator's socket whose token was revoked or expired.
	closeUnauthorized = 4001
	closeFrames       = "frame too large"
)

// conn is one websocket: a reader that handles client frames in order and a
// writer that sends queued frames, what a wake-up makes sync produce, and
// pings. A full send queue drops the connection (the client resumes).
type conn struct {
	ws *websocket.Conn
	// queue holds frames to send; it grows on demand (an idle socket holds
	// none) up to sendQueue frames; signal wakes the writer.
	qmu     sync.Mutex
	queue   [][]byte
	signal  chan struct{}
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
	limiter *rate.Limiter
	logger  *slog.Logger
	// afterSync, when set, runs after the frames of a sync were written.
	afterSync func(ctx context.Context)
}

func newConn(ws *websocket.Conn, logger *slog.Logger) *conn {
	return &conn{ws: ws, signal: make(chan struct{}, 1), wake: make(chan struct{}, 1), done: make(chan struct{}),
		limiter: rate.NewLimiter(frameRate, frameBurst), logger: logger}
}

// send queues a frame; a connection whose queue is full is closed.
func (c *conn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.logger.Error("chatws: encode frame", "err", err)
		return
	}
	c.qmu.Lock()
	full := len(c.queue) >= sendQueue
	if !full {
		c.queue = append(c.queue, b)
	}
	c.qmu.Unlock()
	if full {
		c.closeWith(websocket.ClosePolicyViolation, closeSlow)
		return
	}
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// take returns the queued frames and empties the queue.
func (c *conn) take() [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

// poke makes the writer run sync soon; many pokes coalesce.
func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) closeWith(code int, reason string) {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = c.ws.Close()
	})
}

// writeLoop runs until the connection ends. sync returns the frames to send
// after a wake-up (read from the database); it runs on this goroutine, so its
// frames are written in order and never overflow the queue.
func (c *conn) writeLoop(ctx context.Context, sync func(ctx context.Context) ([]any, error)) {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	write := func(b []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.closeWith(websocket.CloseGoingAway, "")
			return false
		}
		return true
	}
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			c.closeWith(websocket.CloseGoingAway, "server shutting down")
			return
		case <-c.signal:
			for _, b := range c.take() {
				if !write(b) {
					return
				}
			}
		case <-c.wake:
			frames, err := sync(ctx)
			if err != nil {
				if ctx.Err() == nil {
					c.logger.Warn("chatws: sync", "err", err)
				}
				// Try again a little later: the data is durable.
				time.AfterFunc(time.Second, c.poke)
			}
			for _, f := range frames {
				b, err := json.Marshal(f)
				if err != nil {
					continue
				}
				if !write(b) {
					return
				}
			}
			if len(frames) > 0 && c.afterSync != nil {
				c.afterSync(ctx)
			}
		case <-ping.C:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.closeWith(websocket.CloseGoingAway, "")
				return
			}
		}
	}
}

// readLoop reads client frames until the connection ends and hands each to
// handle, in order. Frames over the rate limit are answered with an error and
// dropped.
func (c *conn) readLoop(handle func(f *inFrame)) {
	defer c.closeWith(websocket.CloseNormalClosure, "")
	c.ws.SetReadLimit(maxFrame)
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.closeWith(websocket.CloseMessageTooBig, closeFrames)
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		var f inFrame
		if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
			c.send(errorFrame(&comagic.Error{Code: comagic.EINVALID, Field: "type", Message: "a frame is a JSON object with a type"}))
			continue
		}
		if !c.limiter.Allow() {
			err := comagic.Errorf(comagic.ERATELIMITED, "too many frames; slow down")
			if len(f.ID) > 0 {
				c.send(reply(f.ID, nil, err))
			} else {
				c.send(errorFrame(err))
			}
			continue
		}
		handle(&f)
	}
}
