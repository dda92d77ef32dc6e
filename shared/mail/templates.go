package mail

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"

	"vodfc.dev/vodfc"
)

// Site is the product the templates speak for.
type Site struct {
	Name string // "vodfc"
	URL  string // optional home page, linked from the messages when set
}

// kind names one templated message: templates/<kind>.txt.tmpl defines "subject" and "text",
// templates/<kind>.html.tmpl defines "title" and "content" for the shared layout.
type kind string

const (
	kindVerificationCode kind = "verification_code"
	kindAccountExists    kind = "account_exists"
	kindPasswordReset    kind = "password_reset"
	kindNoAccount        kind = "no_account"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var funcs = map[string]any{
	// minutes says a lifetime the way people read it: "1 minute", "10 minutes".
	"minutes": func(d time.Duration) string {
		m := int((d + time.Minute - 1) / time.Minute)
		if m == 1 {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", m)
	},
}

type templatePair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templates are parsed once at start-up; a broken template is a build defect, which the tests
// catch, so parsing panics.
var templates = func() map[kind]templatePair {
	m := map[kind]templatePair{}
	for _, k := range []kind{kindVerificationCode, kindAccountExists, kindPasswordReset, kindNoAccount} {
		m[k] = templatePair{
			text: texttemplate.Must(texttemplate.New("").Funcs(funcs).ParseFS(templateFS, "templates/"+string(k)+".txt.tmpl")),
			html: htmltemplate.Must(htmltemplate.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html.tmpl", "templates/"+string(k)+".html.tmpl")),
		}
	}
	return m
}()

// templateData is what every template sees.
type templateData struct {
	Site     Site
	To       string
	Code     string
	ValidFor time.Duration
}

func render(k kind, d templateData) (Message, error) {
	if d.Site.Name == "" {
		d.Site.Name = "vodfc"
	}
	to, err := mail.ParseAddress(d.To)
	if err != nil {
		return Message{}, fmt.Errorf("mail: recipient %q: %v", d.To, err)
	}
	if err := checkAddress(to.Address); err != nil {
		return Message{}, fmt.Errorf("mail: recipient: %w", err)
	}
	msgTo := d.To
	d.To = to.Address // the bodies show the bare address
	t := templates[k]
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", d); err != nil {
		return Message{}, err
	}
	if err := t.text.ExecuteTemplate(&text, "text", d); err != nil {
		return Message{}, err
	}
	if err := t.html.ExecuteTemplate(&html, "layout", d); err != nil {
		return Message{}, err
	}
	return Message{To: msgTo, Subject: strings.TrimSpace(subject.String()), Text: text.String(), HTML: html.String()}, nil
}

// checkCode refuses anything that is not a short token of letters and digits, so a code can be
// put in any template without escaping concerns.
func checkCode(code string) error {
	if len(code) < 4 || len(code) > 32 {
		return errors.New("mail: a code must be 4 to 32 characters")
	}
	for _, r := range code {
		if !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z') {
			return errors.New("mail: a code must be letters and digits only")
		}
	}
	return nil
}

func checkValidFor(d time.Duration) error {
	if d < time.Minute || d > 24*time.Hour {
		return fmt.Errorf("mail: code lifetime %v out of range", d)
	}
	return nil
}

// VerificationCode renders the email confirming a new account's address with code, which is
// valid for validFor.
func VerificationCode(site Site, to, code string, validFor time.Duration) (Message, error) {
	if err := errors.Join(checkCode(code), checkValidFor(validFor)); err != nil {
		return Message{}, err
	}
	return render(kindVerificationCode, templateData{Site: site, To: to, Code: code, ValidFor: validFor})
}

// PasswordResetCode renders the email carrying a password-reset code valid for validFor.
func PasswordResetCode(site Site, to, code string, validFor time.Duration) (Message, error) {
	if err := errors.Join(checkCode(code), checkValidFor(validFor)); err != nil {
		return Message{}, err
	}
	return render(kindPasswordReset, templateData{Site: site, To: to, Code: code, ValidFor: validFor})
}

// AccountExists renders the email sent instead of a verification code when someone registers
// an address that already has an account: the registration answer stays the same for known
// and unknown addresses, and only the owner of the address learns it is taken.
func AccountExists(site Site, to string) (Message, error) {
	return render(kindAccountExists, templateData{Site: site, To: to})
}

// NoAccount renders the email sent instead of a code when a password reset or a new
// verification code is asked for an address that has no account: the answer to the request
// stays the same for known and unknown addresses, the same work (one message) is done for
// both, and only the owner of the address learns that it has no account.
func NoAccount(site Site, to string) (Message, error) {
	return render(kindNoAccount, templateData{Site: site, To: to})
}

// SendVerificationCode renders VerificationCode and sends it.
func (s *Sender) SendVerificationCode(ctx context.Context, to, code string, validFor time.Duration) error {
	return s.sendRendered(ctx)(VerificationCode(s.cfg.Site, to, code, validFor))
}

// SendPasswordResetCode renders PasswordResetCode and sends it.
func (s *Sender) SendPasswordResetCode(ctx context.Context, to, code string, validFor time.Duration) error {
	return s.sendRendered(ctx)(PasswordResetCode(s.cfg.Site, to, code, validFor))
}

// SendAccountExists renders AccountExists and sends it.
func (s *Sender) SendAccountExists(ctx context.Context, to string) error {
	return s.sendRendered(ctx)(AccountExists(s.cfg.Site, to))
}

// SendNoAccount renders NoAccount and sends it.
func (s *Sender) SendNoAccount(ctx context.Context, to string) error {
	return s.sendRendered(ctx)(NoAccount(s.cfg.Site, to))
}

func (s *Sender) sendRendered(ctx context.Context) func(Message, error) error {
	return func(m Message, err error) error {
		if err != nil {
			return vodfc.Internal(err)
		}
		return s.Send(ctx, m)
	}
}
