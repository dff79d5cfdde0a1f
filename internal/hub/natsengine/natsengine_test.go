package natsengine_test

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/comagicd/comagicd/internal/hub"
	"github.com/comagicd/comagicd/internal/hub/hubtest"
	"github.com/comagicd/comagicd/internal/hub/natsengine"
)

// natsAddr is the NATS server of the test machine (TEST_NATS_ADDR, default
// 127.0.0.1:4222).
func natsAddr() string {
	if a := os.Getenv("TEST_NATS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:4222"
}

func TestConformance(t *testing.T) {
	hubtest.Run(t, func(t *testing.T) hub.Engine {
		return natsengine.New("nats://"+natsAddr(), hubtest.Logger(t))
	})
}

// TestReconnect runs the engine through a TCP proxy the test controls; drop
// cuts the proxied connections (the proxy keeps listening), as a network
// failure or a restarted server would.
func TestReconnect(t *testing.T) {
	hubtest.RunReconnect(t, func(t *testing.T) (hub.Engine, func()) {
		p := startProxy(t, natsAddr())
		return natsengine.New("nats://"+p.addr(), hubtest.Logger(t)), p.cut
	})
}

// TestFirstConnectionRetried starts the engine while its server does not
// answer: it is not ready, and once the server is there it connects,
// resynchronises (messages may have been missed) and delivers.
func TestFirstConnectionRetried(t *testing.T) {
	p := startProxy(t, natsAddr())
	p.setRefusing(true)
	e := natsengine.New("nats://"+p.addr(), hubtest.Logger(t))
	h := hub.New(e, hubtest.Logger(t))
	resyncs := 0
	var mu sync.Mutex
	defer h.OnResync(func() { mu.Lock(); resyncs++; mu.Unlock() })()
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		if err := <-done; err != nil { // t.Context ends before cleanups run
			t.Errorf("Run: %v", err)
		}
	})
	hubtest.WaitFor(t, "a refused connection attempt", func() bool { return p.refused() >= 2 })
	if h.Ready() {
		t.Fatal("ready without a server")
	}
	p.setRefusing(false)
	hubtest.WaitFor(t, "ready", h.Ready)
	hubtest.WaitFor(t, "resync", func() bool { mu.Lock(); defer mu.Unlock(); return resyncs == 1 })
	other := hubtest.Node(t, natsengine.New("nats://"+natsAddr(), hubtest.Logger(t)))
	topic := hubtest.Topic("first")
	r := hubtest.Record(h, topic)
	if err := other.Publish(ctx, topic, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, "hello")
}

// proxy forwards TCP connections to a target and can cut them or refuse new ones.
type proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	refusing bool
	nRefused int
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.accept(&wg)
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept(wg *sync.WaitGroup) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refusing {
			p.nRefused++
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		wg.Add(2)
		go p.pipe(wg, c, s)
		go p.pipe(wg, s, c)
	}
}

// pipe copies from src to dst; when either side ends, both are closed.
func (p *proxy) pipe(wg *sync.WaitGroup, dst, src net.Conn) {
	defer wg.Done()
	_, _ = io.Copy(dst, src) // ends when cut, the peer or the other pipe closes
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
	dst.Close()
	src.Close()
}

// cut closes every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) setRefusing(on bool) {
	p.mu.Lock()
	p.refusing = on
	p.mu.Unlock()
}

func (p *proxy) refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nRefused
}
