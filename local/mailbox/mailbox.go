// Package mailbox is the local cloud's mail sink: an SMTP server (emersion/go-smtp) that
// accepts every message, decodes it (MIME parts, quoted-printable and base64, charsets, RFC 2047
// headers) and keeps the newest ones in memory, optionally persisted under the data directory.
// Developers read them at GET /_local/mail?to=ADDRESS on the gateway, and tests wait for them
// with Wait. It can offer STARTTLS and a second, implicit-TLS listener with a self-signed
// certificate and can require AUTH PLAIN or LOGIN, so every mode of shared/mail is exercised
// against it exactly as against DirectMail. It delivers nothing anywhere.
package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// DefaultAddr is where the local cloud listens for SMTP (docs/architecture.md).
const DefaultAddr = "127.0.0.1:2525"

// Defaults for Options.
const (
	DefaultKeep            = 500
	DefaultMaxMessageBytes = 25 << 20
)

// Options configures Start.
type Options struct {
	// Addr is the plain SMTP listener (STARTTLS offered when STARTTLS is set); DefaultAddr
	// when empty. "127.0.0.1:0" picks a free port; Addr() tells which.
	Addr string
	// TLSAddr, when set, adds a listener speaking TLS from the first byte, like port 465.
	TLSAddr string
	// STARTTLS offers STARTTLS on Addr.
	STARTTLS bool
	// Username and Password, when set, make AUTH mandatory before MAIL.
	Username, Password string
	// AuthMechanisms are the SASL mechanisms offered, "PLAIN" and "LOGIN" by default; offering
	// only LOGIN imitates DirectMail.
	AuthMechanisms []string
	// Keep is how many messages are kept, newest first; DefaultKeep when zero.
	Keep int
	// Dir, when set, persists every message there as JSON and reloads them on Start.
	Dir string
	// MaxMessageBytes bounds one message; DefaultMaxMessageBytes when zero.
	MaxMessageBytes int64
	// Logger receives one line per message and any errors; slog.Default() when nil.
	Logger *slog.Logger
}

// Message is one received message, decoded.
type Message struct {
	ID string `json:"id"`
	// To are the envelope recipients (RCPT TO), which include Bcc.
	To []string `json:"to"`
	// From is the From header, decoded ("Name <address>").
	From string `json:"from"`
	// EnvelopeFrom is the MAIL FROM address.
	EnvelopeFrom string    `json:"envelope_from"`
	Subject      string    `json:"subject"`
	Text         string    `json:"text"`
	HTML         string    `json:"html"`
	ReceivedAt   time.Time `json:"received_at"`
	MessageID    string    `json:"message_id,omitempty"`
	// TLS tells whether the message arrived over TLS (implicit or STARTTLS); AuthUser who
	// authenticated, if anyone.
	TLS      bool   `json:"tls"`
	AuthUser string `json:"auth_user,omitempty"`
	// ParseError is set when the message could not be fully decoded; Raw still has it all.
	ParseError string `json:"parse_error,omitempty"`
	// Raw is the message exactly as received.
	Raw string `json:"raw"`
}

// sentTo reports whether m was delivered to addr, ignoring case.
func (m *Message) sentTo(addr string) bool {
	for _, t := range m.To {
		if strings.EqualFold(t, addr) {
			return true
		}
	}
	return false
}

// entry is a stored message and the addresses for which Wait has already returned it.
type entry struct {
	msg    Message
	waited map[string]bool
	// earlier marks mail of a previous run, reloaded from disk: listed, but never handed to
	// Wait, so a test waiting for a new code cannot get yesterday's.
	earlier bool
}

// Mailbox is a running SMTP sink. It is safe for concurrent use.
type Mailbox struct {
	opts    Options
	log     *slog.Logger
	cert    *x509.Certificate // nil without TLS
	servers []*smtp.Server
	// listeners are closed by Close too: a server whose Serve goroutine has not started yet
	// does not know its listener.
	listeners []net.Listener
	addr      string
	tlsAddr   string
	store     *diskStore // nil without Dir

	mu      sync.Mutex
	entries []*entry      // oldest first
	arrived chan struct{} // closed and replaced on every new message
	closed  bool
}

// Start listens on the configured addresses and serves until Close or until ctx is done.
func Start(ctx context.Context, opts Options) (*Mailbox, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if (opts.Username == "") != (opts.Password == "") {
		return nil, errors.New("mailbox: set both Username and Password, or neither")
	}
	if len(opts.AuthMechanisms) == 0 {
		opts.AuthMechanisms = []string{"PLAIN", "LOGIN"}
	}
	for _, mech := range opts.AuthMechanisms {
		if mech != "PLAIN" && mech != "LOGIN" {
			return nil, fmt.Errorf("mailbox: unsupported AUTH mechanism %q (PLAIN or LOGIN)", mech)
		}
	}
	for _, addr := range []string{opts.Addr, opts.TLSAddr} {
		if err := checkLoopback(addr); err != nil {
			return nil, err
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Mailbox{opts: opts, log: opts.Logger.With("component", "mailbox"), arrived: make(chan struct{})}

	if opts.Dir != "" {
		store, loaded, err := openDiskStore(opts.Dir, opts.Keep, m.log)
		if err != nil {
			return nil, err
		}
		m.store = store
		for _, msg := range loaded {
			m.entries = append(m.entries, &entry{msg: msg, earlier: true})
		}
	}

	var tlsConfig *tls.Config
	if opts.STARTTLS || opts.TLSAddr != "" {
		cert, err := selfSigned()
		if err != nil {
			return nil, err
		}
		m.cert = cert.Leaf
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	newServer := func() *smtp.Server {
		s := smtp.NewServer(smtp.BackendFunc(m.newSession))
		s.Domain = "mailbox.fclocal"
		s.MaxMessageBytes = opts.MaxMessageBytes
		s.MaxRecipients = 100
		s.ReadTimeout = time.Minute
		s.WriteTimeout = time.Minute
		// Credentials on loopback are fine, and plain AUTH must be testable.
		s.AllowInsecureAuth = true
		s.ErrorLog = slogAdapter{m.log}
		return s
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("mailbox: listen on %s: %w", opts.Addr, err)
	}
	plain := newServer()
	if opts.STARTTLS {
		plain.TLSConfig = tlsConfig
	}
	m.addr = ln.Addr().String()
	m.servers = append(m.servers, plain)
	listeners := []net.Listener{ln}
	if opts.TLSAddr != "" {
		tln, err := net.Listen("tcp", opts.TLSAddr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("mailbox: listen on %s: %w", opts.TLSAddr, err)
		}
		implicit := newServer()
		implicit.TLSConfig = tlsConfig
		m.tlsAddr = tln.Addr().String()
		m.servers = append(m.servers, implicit)
		listeners = append(listeners, tls.NewListener(tln, tlsConfig))
	}
	m.listeners = listeners
	for i, s := range m.servers {
		go func() {
			if err := s.Serve(listeners[i]); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !m.isClosed() {
				m.log.Error("smtp server stopped", "addr", listeners[i].Addr().String(), "err", err)
			}
		}()
	}
	context.AfterFunc(ctx, func() { m.Close() })
	m.log.Info("mailbox listening", "addr", m.addr, "tls_addr", m.tlsAddr, "starttls", opts.STARTTLS, "auth", opts.Username != "")
	return m, nil
}

// checkLoopback refuses to listen beyond this machine: the sink takes any credentials over
// plain text and shows every message to whoever asks (docs/architecture.md: everything local
// binds to 127.0.0.1).
func checkLoopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("mailbox: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("mailbox: address %q: the mail sink only listens on loopback (127.0.0.1)", addr)
	}
	return nil
}

// Addr is the plain SMTP listener's address.
func (m *Mailbox) Addr() string { return m.addr }

// TLSAddr is the implicit-TLS listener's address, "" without one.
func (m *Mailbox) TLSAddr() string { return m.tlsAddr }

// RootCAs trusts the mailbox's self-signed certificate (valid for 127.0.0.1, ::1 and
// localhost); nil when TLS is off. Clients put it in tls.Config.RootCAs.
func (m *Mailbox) RootCAs() *x509.CertPool {
	if m.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(m.cert)
	return pool
}

// Close stops the listeners and drops open connections. Stored messages stay readable.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var errs []error
	for _, s := range m.servers {
		if err := s.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, l := range m.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Mailbox) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Messages returns the stored messages delivered to to (any case), newest first; all of them
// when to is empty.
func (m *Mailbox) Messages(to string) []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Message
	for i := len(m.entries) - 1; i >= 0; i-- {
		if e := m.entries[i]; to == "" || e.msg.sentTo(to) {
			out = append(out, e.msg)
		}
	}
	return out
}

// Wait returns the oldest message to to (any case; any recipient when empty) that Wait has not
// yet returned for that address, waiting for one to arrive if need be. Each message is handed
// out once per address, so a test can send twice and Wait twice and get both, in order,
// whatever arrived before. It fails when ctx ends.
func (m *Mailbox) Wait(ctx context.Context, to string) (Message, error) {
	key := strings.ToLower(to)
	if key == "" {
		key = "*"
	}
	for {
		m.mu.Lock()
		for _, e := range m.entries {
			if e.earlier || e.waited[key] {
				continue
			}
			if to == "" || e.msg.sentTo(to) {
				e.waited[key] = true
				msg := e.msg
				m.mu.Unlock()
				return msg, nil
			}
		}
		arrived := m.arrived
		m.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("mailbox: no message to %q: %w", to, ctx.Err())
		}
	}
}

// add stores msg, persisting it first when a directory is configured.
func (m *Mailbox) add(msg Message) error {
	if m.store != nil {
		if err := m.store.save(msg); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.entries = append(m.entries, &entry{msg: msg, waited: map[string]bool{}})
	if over := len(m.entries) - m.opts.Keep; over > 0 {
		m.entries = slices.Delete(m.entries, 0, over)
	}
	close(m.arrived)
	m.arrived = make(chan struct{})
	m.mu.Unlock()
	if m.store != nil {
		m.store.trim()
	}
	return nil
}

// slogAdapter routes go-smtp's error log into slog.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.log.Warn(strings.TrimSpace(fmt.Sprintln(v...))) }
