package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"vodfc.dev/vodfc"
)

// Message is one email to one recipient.
type Message struct {
	// To is the recipient, "address" or "Name <address>".
	To      string
	Subject string
	// Text is the plain-text body; required, since some readers show nothing else.
	Text string
	// HTML is the optional HTML alternative.
	HTML string
}

// maxSubjectRunes keeps subjects within what every client displays; ours are far shorter.
const maxSubjectRunes = 200

// Sender sends messages through one SMTP server. It opens a connection per message: an FC
// instance sends rarely and may be frozen between requests, so a pooled connection would
// mostly be a dead one. It is safe for concurrent use.
type Sender struct {
	cfg  Config
	from *mail.Address
	host string
	now  func() time.Time
}

// New checks cfg and returns a Sender. It does not connect.
func New(cfg Config) (*Sender, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	from, _ := mail.ParseAddress(cfg.From)
	host, _, _ := net.SplitHostPort(cfg.Addr)
	return &Sender{cfg: cfg, from: from, host: host, now: time.Now}, nil
}

// Site is the product the templates speak for.
func (s *Sender) Site() Site { return s.cfg.Site }

// Send delivers msg. Failures are *vodfc.Error: Unavailable when a retry may help (network,
// timeout, a 4xx answer), Internal when the server refused for good (5xx) or msg is unusable.
func (s *Sender) Send(ctx context.Context, msg Message) error {
	to, data, err := s.compose(msg)
	if err != nil {
		return vodfc.Internal(err)
	}
	if err := s.deliver(ctx, to, data); err != nil {
		err = fmt.Errorf("mail: send to %s via %s: %w", to, s.cfg.Addr, err)
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return vodfc.Internal(err)
		}
		return vodfc.Unavailable(err)
	}
	return nil
}

// deliver runs one SMTP session.
func (s *Sender) deliver(ctx context.Context, to string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	// go-smtp sets and clears per-command deadlines itself, so the overall bound is enforced
	// by closing the connection when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	tlsCfg := s.tlsConfig()
	var c *smtp.Client
	switch s.cfg.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return ctxErr(ctx, err)
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, tlsCfg); err != nil {
			return ctxErr(ctx, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	// The context bounds the whole session; go-smtp's own per-command deadlines are only a
	// backstop, set later so that a timeout is always reported as the context's.
	c.CommandTimeout = s.cfg.Timeout + time.Second
	c.SubmissionTimeout = s.cfg.Timeout + time.Second
	if err := s.session(c, to, data); err != nil {
		c.Close()
		return ctxErr(ctx, err)
	}
	return nil
}

func (s *Sender) session(c *smtp.Client, to string, data []byte) error {
	// An explicit EHLO surfaces a failed TLS handshake here; later calls such as SupportsAuth
	// would swallow it. The name matches the one go-smtp sends before STARTTLS.
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if s.cfg.Username != "" {
		var mech sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			mech = sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)
		case c.SupportsAuth(sasl.Login):
			mech = sasl.NewLoginClient(s.cfg.Username, s.cfg.Password)
		default:
			return errors.New("server offers neither AUTH PLAIN nor AUTH LOGIN")
		}
		if err := c.Auth(mech); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.SendMail(s.from.Address, []string{to}, bytes.NewReader(data)); err != nil {
		return err
	}
	return c.Quit()
}

func (s *Sender) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		cfg = s.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// ctxErr prefers the context's reason over the "use of closed connection" it causes.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// compose renders msg as an RFC 5322 message with CRLF line endings and returns the envelope
// recipient with it.
func (s *Sender) compose(msg Message) (to string, data []byte, err error) {
	rcpt, err := mail.ParseAddress(msg.To)
	if err != nil {
		return "", nil, fmt.Errorf("mail: recipient %q: %v", msg.To, err)
	}
	if err := checkAddress(rcpt.Address); err != nil {
		return "", nil, fmt.Errorf("mail: recipient: %w", err)
	}
	if strings.ContainsAny(msg.Subject, "\r\n") || !utf8.ValidString(msg.Subject) || utf8.RuneCountInString(msg.Subject) > maxSubjectRunes {
		return "", nil, fmt.Errorf("mail: subject must be one line of at most %d characters of UTF-8", maxSubjectRunes)
	}
	if strings.TrimSpace(msg.Text) == "" {
		return "", nil, errors.New("mail: a message needs a plain-text body")
	}
	if !utf8.ValidString(msg.Text) || !utf8.ValidString(msg.HTML) {
		return "", nil, errors.New("mail: body is not valid UTF-8")
	}

	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", s.now().Format(time.RFC1123Z))
	header("From", s.from.String())
	header("To", rcpt.String())
	header("Subject", encodeSubject(msg.Subject))
	header("Message-ID", s.messageID())
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")
	if msg.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, msg.Text)
		return rcpt.Address, b.Bytes(), nil
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, content string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return "", nil, err
		}
		var qp bytes.Buffer
		writeQP(&qp, part.content)
		w.Write(qp.Bytes())
	}
	if err := mw.Close(); err != nil {
		return "", nil, err
	}
	b.Write(body.Bytes())
	return rcpt.Address, b.Bytes(), nil
}

// writeQP writes s quoted-printable with CRLF line breaks, as RFC 2045 wants for text.
func writeQP(b *bytes.Buffer, s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	qw := quotedprintable.NewWriter(b)
	qw.Write([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
	qw.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}

// encodeSubject RFC 2047-encodes a non-ASCII subject, choosing the shorter of Q (mostly Latin
// text) and B (CJK and the like), and folds it between encoded words, so no header line runs
// past 78 characters.
func encodeSubject(s string) string {
	if isPlainASCII(s) {
		return s
	}
	enc := mime.QEncoding.Encode("utf-8", s)
	if b := mime.BEncoding.Encode("utf-8", s); len(b) < len(enc) {
		enc = b
	}
	// Each encoded word is at most 75 characters; mime joins them with single spaces.
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// messageID makes a globally unique Message-ID under the sender's domain.
func (s *Sender) messageID() string {
	var b [16]byte
	rand.Read(b[:])
	domain := s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}
