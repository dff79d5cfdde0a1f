// Package hub carries small wake-up messages between comagicd nodes and fans
// them out to the subscribers each node holds (websockets, mostly). The data
// itself stays durable in PostgreSQL: a message only says "look again", e.g.
// {"k":"event","chat":7,"seq":12} on topic "c.7". The transport between the
// nodes is an Engine: PostgreSQL LISTEN/NOTIFY (hub/pgengine) by default, NATS
// core pub/sub (hub/natsengine) for larger deployments.
package hub

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Engine carries small wake-up messages between the nodes.
type Engine interface {
	// Publish sends payload on topic to every node's Run, this one's included.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Run receives messages until ctx ends, calling deliver for each (in order per
	// topic). After the connection to the broker was lost and re-established it calls
	// resync once (messages may have been missed meanwhile). Returns nil when ctx ends.
	Run(ctx context.Context, deliver func(topic string, payload []byte), resync func()) error
	// Ready reports whether Run is currently connected and listening.
	Ready() bool
}

// MaxPayload is the largest payload Publish accepts, in bytes. PostgreSQL's
// NOTIFY takes fewer than 8000 bytes, topic included.
const MaxPayload = 7000

// MaxTopic is the longest topic Publish accepts, in bytes.
const MaxTopic = 128

// Hub publishes wake-ups through its engine and fans the ones its engine
// receives out to the local subscribers of their topic.
type Hub struct {
	engine Engine
	logger *slog.Logger

	mu sync.Mutex
	// topics maps a topic to its subscribers; resyncs are the resync
	// callbacks. Adding or removing one is O(1), so 20,000 sockets on one
	// topic cost no quadratic copying; delivery iterates a snapshot, made
	// again only after the set changed, without holding mu.
	topics  map[string]*subSet
	resyncs *subSet
}

// subSet is a set of subscriptions with a cached snapshot for delivery.
type subSet struct {
	set  map[*subscription]struct{}
	snap []*subscription // nil after a change
}

func newSubSet() *subSet { return &subSet{set: map[*subscription]struct{}{}} }

func (ss *subSet) add(s *subscription) {
	ss.set[s] = struct{}{}
	ss.snap = nil
}

func (ss *subSet) remove(s *subscription) {
	if _, ok := ss.set[s]; ok {
		delete(ss.set, s)
		ss.snap = nil
	}
}

// snapshot returns the subscriptions; call it with the hub's mu held.
func (ss *subSet) snapshot() []*subscription {
	if ss.snap == nil {
		ss.snap = make([]*subscription, 0, len(ss.set))
		for s := range ss.set {
			ss.snap = append(ss.snap, s)
		}
	}
	return ss.snap
}

// subscription is one registered callback. mu serialises the callback with
// its cancellation, so no call starts or runs after cancel returns.
type subscription struct {
	mu        sync.Mutex
	cancelled bool
	fn        func(payload []byte)
}

// New returns a hub on e. Call Run to receive messages.
func New(e Engine, logger *slog.Logger) *Hub {
	return &Hub{engine: e, logger: logger, topics: map[string]*subSet{}, resyncs: newSubSet()}
}

// Publish sends payload to the subscribers of topic on every node, this one
// included. A topic is 1..MaxTopic bytes of ASCII letters, digits, '_' and '-'
// in dot-separated non-empty parts ("v.123"); a payload is valid UTF-8 without
// NUL bytes, at most MaxPayload bytes. Anything else is an EINVALID error.
func (h *Hub) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	if len(payload) > MaxPayload {
		return comagic.Invalid("payload", "hub payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	if !utf8.Valid(payload) {
		return comagic.Invalid("payload", "hub payload is not valid UTF-8")
	}
	for _, b := range payload {
		if b == 0 {
			return comagic.Invalid("payload", "hub payload contains a NUL byte")
		}
	}
	if err := h.engine.Publish(ctx, topic, payload); err != nil {
		return fmt.Errorf("hub: publish on %s: %w", topic, err)
	}
	return nil
}

// ValidateTopic returns an EINVALID error unless topic is 1..MaxTopic bytes of
// ASCII letters, digits, '_' and '-' in dot-separated non-empty parts.
func ValidateTopic(topic string) error {
	if topic == "" || len(topic) > MaxTopic {
		return comagic.Invalid("topic", "hub topic must be 1 to %d bytes long", MaxTopic)
	}
	prev := byte('.')
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && prev != '.':
		default:
			return comagic.Invalid("topic", "hub topic %q: only letters, digits, '_', '-' and non-empty dot-separated parts", topic)
		}
		prev = c
	}
	if prev == '.' {
		return comagic.Invalid("topic", "hub topic %q ends with a dot", topic)
	}
	return nil
}

// Subscribe calls fn (which must not block) with every payload published on topic
// until the returned cancel is called. Many subscribers per topic.
//
// fn runs on the hub's Run goroutine, in each node's order of publication per
// topic (messages of different nodes have no order between them); payload
// is shared by the topic's subscribers and must not be modified. fn may
// subscribe and cancel other subscriptions but must not call its own cancel
// (which waits for a call under way to finish). Once cancel has returned, fn
// is not called again. cancel may be called more than once.
func (h *Hub) Subscribe(topic string, fn func(payload []byte)) (cancel func()) {
	s := &subscription{fn: fn}
	h.mu.Lock()
	ss := h.topics[topic]
	if ss == nil {
		ss = newSubSet()
		h.topics[topic] = ss
	}
	ss.add(s)
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if ss := h.topics[topic]; ss != nil {
			ss.remove(s)
			if len(ss.set) == 0 {
				delete(h.topics, topic)
			}
		}
		h.mu.Unlock()
		s.cancel()
	}
}

// OnResync registers fn, called after the engine reconnected: messages may have
// been lost meanwhile, so subscribers reread what they watch. fn runs on the
// hub's Run goroutine and must not block; the cancel rules of Subscribe apply.
func (h *Hub) OnResync(fn func()) (cancel func()) {
	s := &subscription{fn: func([]byte) { fn() }}
	h.mu.Lock()
	h.resyncs.add(s)
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.resyncs.remove(s)
		h.mu.Unlock()
		s.cancel()
	}
}

// Run receives messages through the engine and delivers them until ctx ends.
// It is one of the app's workers.
func (h *Hub) Run(ctx context.Context) error {
	if err := h.engine.Run(ctx, h.deliver, h.resync); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// Ready reports whether the engine is connected and listening.
func (h *Hub) Ready() bool { return h.engine.Ready() }

// Subscribers returns how many subscriptions are active, for tests and metrics.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ss := range h.topics {
		n += len(ss.set)
	}
	return n
}

func (h *Hub) deliver(topic string, payload []byte) {
	h.mu.Lock()
	var subs []*subscription
	if ss := h.topics[topic]; ss != nil {
		subs = ss.snapshot()
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.call(payload)
	}
}

func (h *Hub) resync() {
	h.mu.Lock()
	subs := h.resyncs.snapshot()
	h.mu.Unlock()
	h.logger.Info("hub: resynchronising after reconnect", "subscribers", len(subs))
	for _, s := range subs {
		s.call(nil)
	}
}

func (s *subscription) call(payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cancelled {
		s.fn(payload)
	}
}

func (s *subscription) cancel() {
	s.mu.Lock()
	s.cancelled = true
	s.mu.Unlock()
}
