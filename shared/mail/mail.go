// Package mail sends vodfc's transactional email over SMTP and owns its templates: the
// verification code, the "you already have an account" notice, the password-reset code and the
// "no account uses this address" notice.
//
// In the cloud the server is Alibaba Cloud DirectMail: smtpdm.aliyun.com (Hangzhou; other
// regions have their own host, e.g. smtpdm-ap-southeast-1.aliyuncs.com) on port 465 with
// implicit TLS, or on 80 or 25 (25 is blocked on ECS) with STARTTLS. DirectMail is a
// submission server: it requires AUTH (LOGIN or PLAIN), the user name must be the sender
// address, and the password is the SMTP password set for that address in the console. Locally
// it is the local cloud's mailbox on 127.0.0.1:2525.
//
// Messages are multipart/alternative (text/plain first, text/html last), quoted-printable
// UTF-8, with RFC 2047-encoded non-ASCII subjects and names, a Message-ID, a Date and
// Auto-Submitted: auto-generated (RFC 3834) so auto-responders stay quiet. The code a message
// carries is always in the body, in both parts, never only behind a link.
//
// The client is emersion/go-smtp rather than net/smtp: net/smtp is frozen, has no implicit TLS
// dialer and no LOGIN mechanism, which DirectMail documents first.
package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"
)

// Environment variables read by LoadConfig (docs/architecture.md).
const (
	EnvAddr     = "SMTP_ADDR"
	EnvUsername = "SMTP_USERNAME"
	EnvPassword = "SMTP_PASSWORD"
	EnvTLS      = "SMTP_TLS"
	EnvFrom     = "MAIL_FROM"
)

// TLSMode is how the connection to the SMTP server is secured.
type TLSMode string

const (
	// TLSImplicit speaks TLS from the first byte (port 465, "SMTPS").
	TLSImplicit TLSMode = "implicit"
	// TLSStartTLS connects in plain text and upgrades with STARTTLS before anything else; a
	// server that does not offer it is refused rather than used unencrypted.
	TLSStartTLS TLSMode = "starttls"
	// TLSNone never encrypts: only for the local mailbox.
	TLSNone TLSMode = "none"
)

// DefaultTimeout bounds one Send from dial to the server's final answer.
const DefaultTimeout = 30 * time.Second

// Config configures a Sender.
type Config struct {
	Addr     string // host:port
	Username string // empty: no AUTH
	Password string
	TLS      TLSMode
	// From is the sender, "Name <address>" or "address".
	From string
	// Timeout bounds one Send; DefaultTimeout when zero.
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests trust the mailbox's self-signed certificate
	// with it); ServerName defaults to the host of Addr.
	TLSConfig *tls.Config
	// Site names the product in templates; "vodfc" when empty.
	Site Site
}

// LoadConfig reads SMTP_ADDR, SMTP_USERNAME, SMTP_PASSWORD, SMTP_TLS and MAIL_FROM through
// getenv (os.Getenv in production). SMTP_TLS defaults to implicit on port 465 and starttls
// elsewhere, never to none.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:     strings.TrimSpace(getenv(EnvAddr)),
		Username: strings.TrimSpace(getenv(EnvUsername)),
		Password: getenv(EnvPassword),
		TLS:      TLSMode(strings.ToLower(strings.TrimSpace(getenv(EnvTLS)))),
		From:     strings.TrimSpace(getenv(EnvFrom)),
	}
	if c.Addr == "" {
		return c, fmt.Errorf("mail: %s is not set (host:port, e.g. smtpdm.aliyun.com:465)", EnvAddr)
	}
	if c.From == "" {
		return c, fmt.Errorf("mail: %s is not set (the sender address)", EnvFrom)
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
		if _, port, err := net.SplitHostPort(c.Addr); err == nil && port == "465" {
			c.TLS = TLSImplicit
		}
	}
	return c, c.validate()
}

// validate checks c and fills in its defaults.
func (c *Config) validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("mail: %s %q: want host:port", EnvAddr, c.Addr)
	}
	switch c.TLS {
	case TLSImplicit, TLSStartTLS, TLSNone:
	default:
		return fmt.Errorf("mail: %s %q: want implicit, starttls or none", EnvTLS, c.TLS)
	}
	if (c.Username == "") != (c.Password == "") {
		return fmt.Errorf("mail: set both %s and %s, or neither", EnvUsername, EnvPassword)
	}
	// A password sent in clear over the network is a password given away.
	if c.TLS == TLSNone && c.Username != "" && !isLoopback(host) {
		return fmt.Errorf("mail: refusing to send SMTP credentials unencrypted to %s; use %s=implicit or starttls", host, EnvTLS)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return fmt.Errorf("mail: %s %q: %v", EnvFrom, c.From, err)
	}
	if err := checkAddress(from.Address); err != nil {
		return fmt.Errorf("mail: %s: %w", EnvFrom, err)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return errors.New("mail: negative timeout")
	}
	if c.Site.Name == "" {
		c.Site.Name = "vodfc"
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkAddress refuses what cannot be sent safely: anything but a plain ASCII addr-spec.
// Non-ASCII addresses need SMTPUTF8, which DirectMail does not offer.
func checkAddress(addr string) error {
	if addr == "" || len(addr) > 254 {
		return fmt.Errorf("address %q: empty or too long", addr)
	}
	for _, r := range addr {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("address %q: only printable ASCII addresses are supported", addr)
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("address %q: want local@domain", addr)
	}
	return nil
}
