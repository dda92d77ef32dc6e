package mailbox

import (
	"crypto/subtle"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is one SMTP connection's state.
type session struct {
	m        *Mailbox
	conn     *smtp.Conn
	authUser string
	from     string
	rcpts    []string
}

func (m *Mailbox) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{m: m, conn: c}, nil
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.m.opts.Username == "" {
		return nil
	}
	return s.m.opts.AuthMechanisms
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.m.opts.Username == "" {
		return nil, smtp.ErrAuthUnsupported
	}
	if !slices.Contains(s.m.opts.AuthMechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return smtp.ErrAuthFailed
			}
			return s.login(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{authenticate: s.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) login(username, password string) error {
	userOK := subtle.ConstantTimeCompare([]byte(username), []byte(s.m.opts.Username))
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(s.m.opts.Password))
	if userOK&passOK != 1 {
		return smtp.ErrAuthFailed
	}
	s.authUser = username
	return nil
}

func (s *session) authorised() error {
	if s.m.opts.Username != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := s.authorised(); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.authorised(); err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp answers 552 for an oversized message
	}
	msg := parse(raw)
	msg.ID = newID()
	msg.To = append([]string(nil), s.rcpts...)
	msg.EnvelopeFrom = s.from
	msg.ReceivedAt = time.Now().UTC()
	_, msg.TLS = s.conn.TLSConnectionState()
	msg.AuthUser = s.authUser
	if err := s.m.add(msg); err != nil {
		s.m.log.Error("storing message", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox could not store the message"}
	}
	s.m.log.Info("mail received", "id", msg.ID, "to", msg.To, "subject", msg.Subject, "tls", msg.TLS)
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.rcpts = nil
}

func (s *session) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism (draft-murchison-sasl-login), which
// go-sasl only implements for clients. DirectMail offers LOGIN, so shared/mail must be able to
// use it here too.
type loginServer struct {
	authenticate func(username, password string) error
	step         int
	username     string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0: // AUTH LOGIN, with or without the user name as initial response
		if response == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.username, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 1:
		l.username, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.authenticate(l.username, string(response))
	}
	return nil, true, errors.New("unexpected LOGIN response")
}
