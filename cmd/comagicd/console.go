package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

const consoleUsage = `usage: comagicd operator -login LOGIN [-url URL] [-password-stdin]

Answer chats as an operator from a terminal: logs in, goes online, prints the
waiting and assigned chats and every message, and sends what you type to the
current chat (the latest assigned, or the one chosen with /use). The password
is the first line of standard input with -password-stdin, or else
$COMAGICD_OPERATOR_PASSWORD. When standard input ends after the password,
commands are read from the terminal.

commands:
  text                           send text to the current chat
  /chats                         list your chats and the waiting ones
  /use ID                        make chat ID the current chat
  /take ID                       take a waiting chat
  /close [ID]                    close the current chat (or chat ID)
  /invite SITE VISITOR_ID text   invite a visitor (SITE: site id or key)
  /status online|away|offline    change your status
  /quit                          log out and exit (Ctrl-C too)

flags:
`

// consoleEnv is what the operator console works with; tests give pipes.
type consoleEnv struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (COMAGICD_OPERATOR_PASSWORD).
	Getenv func(string) string
	// TTY opens the terminal to read commands from when standard input
	// ended right after the password; nil when there is none.
	TTY func() (io.ReadCloser, error)
	// Retry is the first delay before reconnecting; it doubles up to maxRetry.
	Retry time.Duration
}

const (
	maxRetry        = 30 * time.Second
	consoleReadWait = 75 * time.Second // the server pings every 25 s
	consoleWriteMax = 10 * time.Second
	maxConsoleLine  = 64 << 10
)

// operatorConsole runs `comagicd operator` on the process's terminal.
func operatorConsole(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runConsole(ctx, args, consoleEnv{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv,
		TTY: func() (io.ReadCloser, error) { return os.Open("/dev/tty") }, Retry: time.Second})
}

// errUnauthorized is a login refused for the credentials.
var errUnauthorized = errors.New("login or password is wrong, or the employee is disabled")

// runConsole parses the flags, logs in and serves the console until /quit,
// a fatal error or the end of ctx (which also logs out).
func runConsole(ctx context.Context, args []string, env consoleEnv) error {
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, consoleUsage)
		fs.PrintDefaults()
	}
	rawURL := fs.String("url", "http://localhost:8080/", "the comagicd server's base URL")
	login := fs.String("login", "", "the operator's login")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("operator: unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(*login) == "" {
		fs.Usage()
		return errors.New("operator: -login is required")
	}
	base, err := url.Parse(*rawURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("operator: -url must be an http(s) URL, got %q", *rawURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	in := bufio.NewReaderSize(env.Stdin, maxConsoleLine)
	var password string
	if *pwStdin {
		line, err := in.ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return fmt.Errorf("operator: read the password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	} else if env.Getenv != nil {
		password = env.Getenv("COMAGICD_OPERATOR_PASSWORD")
	}
	if password == "" {
		return errors.New("operator: give the password with -password-stdin or $COMAGICD_OPERATOR_PASSWORD")
	}
	c := &console{
		env: env, base: base, login: strings.TrimSpace(*login), password: password,
		out:     &printer{w: env.Stdout},
		http:    &http.Client{Timeout: 30 * time.Second},
		wanted:  "online",
		sites:   map[int64]string{},
		chats:   map[int64]*chatView{},
		last:    map[int64]int64{},
		pending: map[int64]map[int64]*inFrame{},
		syncing: map[int64]bool{},
		drafts:  map[int64]string{},
		replies: map[string]func(*inFrame){},
	}
	if err := c.logIn(ctx); err != nil {
		return err
	}
	return c.run(ctx, in, *pwStdin)
}

// console is the state of an operator console: what it was told about chats
// survives reconnections, so it resumes every chat from the last event shown.
type console struct {
	env      consoleEnv
	base     *url.URL
	login    string
	password string
	out      *printer
	http     *http.Client

	wmu sync.Mutex // serialises writes to conn

	mu        sync.Mutex
	token     string
	conn      *websocket.Conn // nil while disconnected
	helloSeen bool
	me        int64
	myName    string
	wanted    string // the status to hold
	sites     map[int64]string
	chats     map[int64]*chatView
	current   int64
	last      map[int64]int64              // chat → last seq shown
	pending   map[int64]map[int64]*inFrame // chat → events after a gap, by seq
	syncing   map[int64]bool
	drafts    map[int64]string
	nextID    int
	replies   map[string]func(*inFrame)
	unacked   []*outMessage // messages sent and not yet acknowledged
}

// outMessage is a message typed by the operator; its uid makes a resend safe.
type outMessage struct {
	ChatID int64
	UID    string
	Text   string
}

// chatView is a chat as the operator channel describes it.
type chatView struct {
	ID         int64  `json:"id"`
	SiteID     int64  `json:"site_id"`
	VisitorID  int64  `json:"visitor_id"`
	State      string `json:"state"`
	EmployeeID *int64 `json:"employee_id"`
	LastSeq    int64  `json:"last_seq"`
	Rating     *int   `json:"rating"`
	Visitor    struct {
		Name  string   `json:"name"`
		Email []string `json:"email"`
		Phone []string `json:"phone"`
	} `json:"visitor"`
	LastText string `json:"last_text"`
}

func (v *chatView) heldBy(me int64) bool {
	return v.EmployeeID != nil && *v.EmployeeID == me && v.State != "closed"
}

// inFrame is any frame of the operator channel.
type inFrame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id"`
	OK    bool            `json:"ok"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Employee *struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"employee"`
	Sites []struct {
		ID      int64    `json:"id"`
		SiteKey string   `json:"site_key"`
		Domains []string `json:"domains"`
	} `json:"sites"`
	Chats    []*chatView `json:"chats"`
	Queue    []*chatView `json:"queue"`
	Chat     *chatView   `json:"chat"`
	ChatID   int64       `json:"chat_id"`
	Seq      int64       `json:"seq"`
	Kind     string      `json:"kind"`
	Sender   string      `json:"sender"`
	Text     string      `json:"text"`
	Date     int64       `json:"date"`
	Operator *struct {
		Name string `json:"name"`
	} `json:"operator"`
	File *struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
		URL  string `json:"url"`
	} `json:"file"`
	Data      map[string]any `json:"data"`
	SiteID    int64          `json:"site_id"`
	Available bool           `json:"available"`
	Status    string         `json:"status"`
}

// printer writes whole lines to the output, one writer at a time.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// clean makes text from the server safe to print: control characters,
// bidirectional overrides and invalid UTF-8 are shown escaped, never
// interpreted; line breaks continue on an indented line.
func clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString("\n    ")
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
			r == 0x200e || r == 0x200f || r == 0x061c || r == 0x2028 || r == 0x2029 || (unicode.Is(unicode.Cc, r)):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// logIn gets a token with the login and password.
func (c *console) logIn(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"login": c.login, "password": c.password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath("api/operator/login").String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("operator: login: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("operator: login: %w", err)
	}
	defer resp.Body.Close()
	var ans struct {
		Token string `json:"token"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil && resp.StatusCode == http.StatusOK {
		return fmt.Errorf("operator: login: read the answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK && ans.Token != "":
		c.mu.Lock()
		c.token = ans.Token
		c.mu.Unlock()
		return nil
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("operator: login: %w", errUnauthorized)
	case ans.Error != nil:
		return fmt.Errorf("operator: login: %s (HTTP %d)", clean(ans.Error.Message), resp.StatusCode)
	}
	return fmt.Errorf("operator: login: HTTP %d", resp.StatusCode)
}

// logOut revokes the token.
func (c *console) logOut() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath("api/operator/logout").String(), nil)
	if err != nil {
		return fmt.Errorf("operator: logout: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("operator: logout: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("operator: logout: HTTP %d", resp.StatusCode)
	}
	return nil
}

// run keeps the operator channel connected and runs the typed commands.
func (c *console) run(ctx context.Context, in *bufio.Reader, pwStdin bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fatal := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.connectLoop(ctx); err != nil {
			fatal <- err
		}
	}()
	lines := make(chan string)
	go c.readLines(ctx, in, pwStdin, lines)
	finish := func(err error) error {
		cancel()
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		if conn != nil {
			c.wmu.Lock()
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"),
				time.Now().Add(time.Second))
			c.wmu.Unlock()
			conn.Close()
		}
		<-done
		if lerr := c.logOut(); lerr != nil && err == nil {
			err = lerr
		}
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return finish(nil)
		case err := <-fatal:
			<-done
			return err
		case line, ok := <-lines:
			if !ok {
				c.out.printf("(standard input ended: still showing chats; Ctrl-C to log out and stop)")
				lines = nil
				continue
			}
			if quit := c.command(strings.TrimRight(line, "\r\n")); quit {
				c.out.printf("logged out")
				return finish(nil)
			}
		}
	}
}

// readLines sends the lines of standard input, then (when standard input
// held only the password) of the terminal; it closes lines at the end.
func (c *console) readLines(ctx context.Context, in *bufio.Reader, pwStdin bool, lines chan<- string) {
	defer close(lines)
	src := in
	read := false
	for {
		line, err := src.ReadString('\n')
		if line != "" {
			read = true
			select {
			case lines <- line:
			case <-ctx.Done():
				return
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) && pwStdin && !read && src == in && c.env.TTY != nil {
			if tty, terr := c.env.TTY(); terr == nil {
				go func() { <-ctx.Done(); tty.Close() }()
				src = bufio.NewReaderSize(tty, maxConsoleLine)
				continue
			}
		}
		return
	}
}

// connectLoop connects, serves the connection until it drops, and
// reconnects with a growing delay; a refused token logs in again. It ends
// with ctx, or with an error when the login itself is refused.
func (c *console) connectLoop(ctx context.Context) error {
	delay := c.env.Retry
	if delay <= 0 {
		delay = time.Second
	}
	wait := delay
	for ctx.Err() == nil {
		conn, status, err := c.dial(ctx)
		if status == http.StatusUnauthorized {
			if err := c.logIn(ctx); err != nil {
				if errors.Is(err, errUnauthorized) {
					return err
				}
				if ctx.Err() == nil {
					c.out.printf("(%v; retrying in %s)", err, wait)
				}
			} else {
				continue
			}
		} else if err != nil {
			if ctx.Err() == nil {
				c.out.printf("(cannot connect: %s; retrying in %s)", clean(err.Error()), wait)
			}
		} else {
			if c.serve(ctx, conn) {
				wait = delay
			}
			if ctx.Err() != nil {
				return nil
			}
			c.out.printf("(connection lost; reconnecting)")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, maxRetry)
	}
	return nil
}

// dial opens the operator channel with the token.
func (c *console) dial(ctx context.Context) (*websocket.Conn, int, error) {
	u := *c.base.JoinPath("ws/operator")
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[c.base.Scheme]
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := d.DialContext(ctx, u.String(), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		return nil, status, fmt.Errorf("operator: dial %s: %w", u.Redacted(), err)
	}
	return conn, http.StatusSwitchingProtocols, nil
}

// serve reads the connection's frames until it drops; it reports whether a
// hello came (the connection worked).
func (c *console) serve(ctx context.Context, conn *websocket.Conn) bool {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetReadLimit(16 << 20)
	_ = conn.SetReadDeadline(time.Now().Add(consoleReadWait))
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(consoleReadWait))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(consoleWriteMax))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.conn = nil
		c.replies = map[string]func(*inFrame){}
		c.syncing = map[int64]bool{}
		c.mu.Unlock()
		conn.Close()
	}()
	greeted := false
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseNormalClosure && ctx.Err() == nil {
				c.out.printf("(the server closed the connection: %d %s)", ce.Code, clean(ce.Text))
			}
			return greeted
		}
		_ = conn.SetReadDeadline(time.Now().Add(consoleReadWait))
		var f inFrame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		if f.Type == "hello" {
			greeted = true
		}
		c.handle(&f)
	}
}

// send writes a command; onReply (optional) gets its reply. It reports
// whether the command went out.
func (c *console) send(frame map[string]any, onReply func(*inFrame)) bool {
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return false
	}
	c.nextID++
	id := "c" + strconv.Itoa(c.nextID)
	frame["id"] = id
	if onReply != nil {
		c.replies[id] = onReply
	}
	c.mu.Unlock()
	data, err := json.Marshal(frame)
	if err != nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(consoleWriteMax))
	if err := conn.WriteMessage(websocket.TextMessage, data); err != nil {
		conn.Close() // the reader notices and reconnects
		return false
	}
	return true
}

// failed prints a refused command's error.
func (c *console) failed(what string) func(*inFrame) {
	return func(r *inFrame) {
		if !r.OK && r.Error != nil {
			c.out.printf("! %s: %s (%s)", what, clean(r.Error.Message), clean(r.Error.Code))
		}
	}
}

// handle runs on the reader goroutine for every frame.
func (c *console) handle(f *inFrame) {
	switch f.Type {
	case "hello":
		c.onHello(f)
	case "chat":
		if f.Chat != nil {
			c.mu.Lock()
			c.onChat(f.Chat, false)
			c.mu.Unlock()
		}
	case "event":
		c.mu.Lock()
		c.onEvent(f)
		c.mu.Unlock()
	case "typing":
		c.mu.Lock()
		text := strings.TrimSpace(f.Text)
		if text != "" && c.drafts[f.ChatID] != text {
			c.drafts[f.ChatID] = text
			c.out.printf("  [chat %d] %s is typing: %s", f.ChatID, c.visitorName(f.ChatID), clean(text))
		}
		c.mu.Unlock()
	case "availability":
		c.mu.Lock()
		site := c.siteName(f.SiteID)
		c.mu.Unlock()
		if f.Available {
			c.out.printf("* site %s: operators online", site)
		} else {
			c.out.printf("* site %s: no operator online", site)
		}
	case "reply":
		var id string
		_ = json.Unmarshal(f.ID, &id)
		c.mu.Lock()
		fn := c.replies[id]
		delete(c.replies, id)
		c.mu.Unlock()
		if fn != nil {
			fn(f)
		} else if !f.OK && f.Error != nil {
			c.out.printf("! %s (%s)", clean(f.Error.Message), clean(f.Error.Code))
		}
	case "error":
		if f.Error != nil {
			c.out.printf("! %s (%s)", clean(f.Error.Message), clean(f.Error.Code))
		}
	}
}

// onHello takes the server's picture after a (re)connection: chats that
// moved on are synchronised from the last event shown, the wanted status is
// set again and unacknowledged messages are sent again.
func (c *console) onHello(f *inFrame) {
	c.mu.Lock()
	first := !c.helloSeen
	c.helloSeen = true
	if f.Employee != nil {
		c.me, c.myName = f.Employee.ID, f.Employee.Name
	}
	var names []string
	for _, s := range f.Sites {
		c.sites[s.ID] = s.SiteKey
		names = append(names, fmt.Sprintf("%s (id %d: %s)", clean(s.SiteKey), s.ID, clean(strings.Join(s.Domains, ", "))))
	}
	if first {
		c.out.printf("logged in as %s (%s); sites: %s", clean(c.myName), clean(c.login), strings.Join(names, "; "))
	} else {
		c.out.printf("(reconnected)")
	}
	held := map[int64]bool{}
	var syncs []int64
	for _, ch := range f.Chats {
		held[ch.ID] = true
		if _, known := c.last[ch.ID]; known && c.last[ch.ID] < ch.LastSeq {
			syncs = append(syncs, ch.ID)
		} else if !known {
			c.last[ch.ID] = ch.LastSeq
		}
		c.onChat(ch, true)
	}
	// Chats held before that the server no longer lists moved on meanwhile:
	// their remaining events tell how.
	for id, ch := range c.chats {
		if ch.heldBy(c.me) && !held[id] {
			syncs = append(syncs, id)
			ch.State = "closed"
			if c.current == id {
				c.current = 0
			}
		}
	}
	queued := map[int64]bool{}
	for _, ch := range f.Queue {
		queued[ch.ID] = true
		c.onChat(ch, true)
	}
	for id, ch := range c.chats {
		if ch.State == "queued" && !queued[id] {
			delete(c.chats, id)
		}
	}
	if len(f.Queue) == 0 && first {
		c.out.printf("no chat is waiting")
	}
	status := ""
	if f.Employee != nil && f.Employee.Status != c.wanted {
		status = c.wanted
	}
	resend := append([]*outMessage(nil), c.unacked...)
	for _, id := range syncs {
		c.syncing[id] = true
	}
	c.mu.Unlock()

	for _, id := range syncs {
		c.sendSync(id)
	}
	if status != "" {
		c.setStatus(status)
	} else if first {
		c.out.printf("status: %s", c.wanted)
	}
	for _, m := range resend {
		if !c.sendMessage(m) {
			break
		}
	}
}

// sendSync asks for the events of a chat after the last one shown.
func (c *console) sendSync(chatID int64) {
	c.mu.Lock()
	after := c.last[chatID]
	c.syncing[chatID] = true
	c.mu.Unlock()
	c.send(map[string]any{"type": "sync", "chat_id": chatID, "after": after}, func(r *inFrame) {
		c.mu.Lock()
		delete(c.syncing, chatID)
		c.mu.Unlock()
		c.failed(fmt.Sprintf("sync chat %d", chatID))(r)
	})
}

func (c *console) setStatus(status string) {
	c.send(map[string]any{"type": "status", "status": status}, func(r *inFrame) {
		if r.OK {
			c.out.printf("status: %s", clean(r.Status))
			return
		}
		c.failed("status")(r)
	})
}

// visitorName names a chat's visitor (c.mu held).
func (c *console) visitorName(chatID int64) string {
	ch := c.chats[chatID]
	if ch == nil {
		return "visitor"
	}
	if ch.Visitor.Name != "" {
		return clean(ch.Visitor.Name)
	}
	return fmt.Sprintf("visitor %d", ch.VisitorID)
}

// siteName names a site by its key (c.mu held).
func (c *console) siteName(id int64) string {
	if key, ok := c.sites[id]; ok {
		return clean(key)
	}
	return strconv.FormatInt(id, 10)
}

// describe is a chat's one-line summary (c.mu held).
func (c *console) describe(ch *chatView) string {
	s := fmt.Sprintf("chat %d, site %s, %s", ch.ID, c.siteName(ch.SiteID), c.visitorName(ch.ID))
	var contacts []string
	contacts = append(contacts, ch.Visitor.Email...)
	contacts = append(contacts, ch.Visitor.Phone...)
	if len(contacts) > 0 {
		s += " <" + clean(strings.Join(contacts, ", ")) + ">"
	}
	if ch.LastText != "" {
		s += ": " + clean(ch.LastText)
	}
	return s
}

// onChat records a chat's new state and says what changed (c.mu held).
func (c *console) onChat(ch *chatView, fromHello bool) {
	old := c.chats[ch.ID]
	c.chats[ch.ID] = ch
	mine, wasMine := ch.heldBy(c.me), old != nil && old.heldBy(c.me)
	switch {
	case mine && !wasMine:
		if fromHello && old == nil {
			c.out.printf("your %s chat: %s", ch.State, c.describe(ch))
		} else if ch.State == "invite" {
			c.out.printf("invitation sent: %s", c.describe(ch))
		} else {
			c.out.printf(">> assigned to you: %s", c.describe(ch))
		}
		c.current = ch.ID
		c.out.printf("(current chat: %d; type to answer)", ch.ID)
	case wasMine && !mine:
		if ch.State == "closed" {
			c.out.printf("chat %d closed", ch.ID)
		} else {
			c.out.printf("chat %d is no longer yours (transferred)", ch.ID)
		}
		if c.current == ch.ID {
			c.current = 0
		}
	case ch.State == "queued" && (old == nil || old.State != "queued"):
		c.out.printf("waiting: %s (/take %d)", c.describe(ch), ch.ID)
	case !mine && old != nil && old.State == "queued" && ch.State != "queued":
		c.out.printf("chat %d left the queue", ch.ID)
	}
}

// onEvent shows an event once and in order: one after a gap waits for the
// missing ones, asked for with sync (c.mu held).
func (c *console) onEvent(f *inFrame) {
	last := c.last[f.ChatID]
	if f.Seq <= last {
		return
	}
	if f.Seq > last+1 {
		if c.pending[f.ChatID] == nil {
			c.pending[f.ChatID] = map[int64]*inFrame{}
		}
		c.pending[f.ChatID][f.Seq] = f
		if !c.syncing[f.ChatID] {
			c.syncing[f.ChatID] = true
			go c.sendSync(f.ChatID)
		}
		return
	}
	for f != nil {
		c.show(f)
		c.last[f.ChatID] = f.Seq
		p := c.pending[f.ChatID]
		next := p[f.Seq+1]
		delete(p, f.Seq+1)
		for seq := range p {
			if seq <= f.Seq {
				delete(p, seq)
			}
		}
		if len(p) == 0 {
			delete(c.pending, f.ChatID)
		}
		f = next
	}
}

// show prints an event (c.mu held).
func (c *console) show(f *inFrame) {
	who := "system"
	switch f.Sender {
	case "visitor":
		who = c.visitorName(f.ChatID)
		delete(c.drafts, f.ChatID)
	case "operator":
		who = "operator"
	}
	if f.Sender != "visitor" && f.Operator != nil && f.Operator.Name != "" {
		who = clean(f.Operator.Name) // an operator's message, join, leave or invite
	}
	at := time.Unix(f.Date, 0).Format("15:04")
	prefix := fmt.Sprintf("%s [chat %d]", at, f.ChatID)
	text := clean(f.Text)
	switch f.Kind {
	case "message":
		c.out.printf("%s %s: %s", prefix, who, text)
	case "file":
		if f.File != nil {
			c.out.printf("%s %s sent a file: %s (%d bytes) %s", prefix, who, clean(f.File.Name), f.File.Size, clean(f.File.URL))
		}
	case "invite":
		c.out.printf("%s %s (invitation): %s", prefix, who, text)
	case "join":
		c.out.printf("%s * %s joined", prefix, who)
	case "leave":
		c.out.printf("%s * %s left", prefix, who)
	case "rating":
		c.out.printf("%s * rating: %s", prefix, clean(fmt.Sprint(f.Data["rating"])))
	case "retention_action":
		c.out.printf("%s * the visitor is offered another way: %s", prefix, clean(fmt.Sprint(f.Data["alternate_communication_way"])))
	case "close":
		c.out.printf("%s * chat closed by %s", prefix, clean(fmt.Sprint(f.Data["closed_by"])))
	default:
		if text != "" {
			c.out.printf("%s * %s", prefix, text)
		} else {
			c.out.printf("%s * %s", prefix, clean(f.Kind))
		}
	}
}

// newUID returns a random message uid.
func newUID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

// sendMessage sends a typed message; it stays unacknowledged (and is sent
// again after a reconnection) until the server's reply.
func (c *console) sendMessage(m *outMessage) bool {
	return c.send(map[string]any{"type": "message", "chat_id": m.ChatID, "uid": m.UID, "text": m.Text}, func(r *inFrame) {
		c.mu.Lock()
		for i, u := range c.unacked {
			if u == m {
				c.unacked = append(c.unacked[:i], c.unacked[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
		c.failed(fmt.Sprintf("message to chat %d", m.ChatID))(r)
	})
}

// command runs a typed line; it reports whether to quit.
func (c *console) command(line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") {
		c.mu.Lock()
		cur := c.current
		c.mu.Unlock()
		if cur == 0 {
			c.out.printf("! no current chat: /chats lists them, /use ID or /take ID picks one")
			return false
		}
		m := &outMessage{ChatID: cur, UID: newUID(), Text: line}
		c.mu.Lock()
		c.unacked = append(c.unacked, m)
		c.mu.Unlock()
		if !c.sendMessage(m) {
			c.out.printf("(not connected: the message goes out after reconnecting)")
		}
		return false
	}
	fields := strings.Fields(line)
	arg := func(i int) int64 {
		if len(fields) <= i {
			return 0
		}
		n, _ := strconv.ParseInt(fields[i], 10, 64)
		return n
	}
	notSent := func(ok bool) {
		if !ok {
			c.out.printf("! not connected; try again in a moment")
		}
	}
	switch fields[0] {
	case "/quit", "/exit":
		return true
	case "/help":
		c.out.printf("%s", strings.TrimSpace(consoleUsage[strings.Index(consoleUsage, "commands:"):strings.Index(consoleUsage, "flags:")]))
	case "/chats":
		c.listChats()
	case "/use":
		id := arg(1)
		c.mu.Lock()
		ch := c.chats[id]
		if ch != nil && ch.heldBy(c.me) {
			c.current = id
			c.out.printf("(current chat: %s)", c.describe(ch))
		} else {
			c.out.printf("! chat %q is not one of yours (/chats; /take ID for a waiting one)", strings.Join(fields[1:], " "))
		}
		c.mu.Unlock()
	case "/take":
		id := arg(1)
		if id <= 0 {
			c.out.printf("! usage: /take ID")
			return false
		}
		notSent(c.send(map[string]any{"type": "take", "chat_id": id}, c.failed(fmt.Sprintf("take chat %d", id))))
	case "/close":
		id := arg(1)
		if id == 0 {
			c.mu.Lock()
			id = c.current
			c.mu.Unlock()
		}
		if id <= 0 {
			c.out.printf("! usage: /close [ID] (no current chat)")
			return false
		}
		notSent(c.send(map[string]any{"type": "close", "chat_id": id}, c.failed(fmt.Sprintf("close chat %d", id))))
	case "/invite":
		rest := strings.TrimSpace(strings.TrimPrefix(line, "/invite"))
		parts := strings.SplitN(rest, " ", 3)
		if len(parts) < 3 || strings.TrimSpace(parts[2]) == "" {
			c.out.printf("! usage: /invite SITE VISITOR_ID text")
			return false
		}
		site := c.siteID(parts[0])
		visitor, err := strconv.ParseInt(parts[1], 10, 64)
		if site == 0 || err != nil || visitor <= 0 {
			c.out.printf("! usage: /invite SITE VISITOR_ID text (SITE: a site id or key of yours)")
			return false
		}
		notSent(c.send(map[string]any{"type": "invite", "site_id": site, "visitor_id": visitor, "text": strings.TrimSpace(parts[2])},
			c.failed("invite")))
	case "/status":
		if len(fields) != 2 {
			c.out.printf("! usage: /status online|away|offline")
			return false
		}
		c.mu.Lock()
		c.wanted = fields[1]
		c.mu.Unlock()
		if !c.send(map[string]any{"type": "status", "status": fields[1]}, func(r *inFrame) {
			if r.OK {
				c.out.printf("status: %s", clean(r.Status))
				return
			}
			c.failed("status")(r)
		}) {
			c.out.printf("(not connected: the status is set after reconnecting)")
		}
	default:
		c.out.printf("! unknown command %s; /help lists them", clean(fields[0]))
	}
	return false
}

// siteID reads a site given by id or key.
func (c *console) siteID(s string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, key := range c.sites {
		if key == s {
			return id
		}
	}
	id, _ := strconv.ParseInt(s, 10, 64)
	return id
}

// listChats prints the operator's chats and the waiting ones.
func (c *console) listChats() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var mine, queued []*chatView
	for _, ch := range c.chats {
		switch {
		case ch.heldBy(c.me):
			mine = append(mine, ch)
		case ch.State == "queued":
			queued = append(queued, ch)
		}
	}
	byID := func(s []*chatView) {
		sort.Slice(s, func(i, j int) bool { return s[i].ID < s[j].ID })
	}
	byID(mine)
	byID(queued)
	c.out.printf("your chats: %d", len(mine))
	for _, ch := range mine {
		mark := " "
		if ch.ID == c.current {
			mark = "*"
		}
		c.out.printf("%s %s (%s)", mark, c.describe(ch), ch.State)
	}
	c.out.printf("waiting: %d", len(queued))
	for _, ch := range queued {
		c.out.printf("  %s", c.describe(ch))
	}
}
