package mailbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	// Registers decoders for the charsets mail actually uses (GBK, Big5, ISO-8859-x, ...).
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
)

// parse decodes raw into a Message. It never fails: what cannot be decoded is reported in
// ParseError and the raw message is kept, so nothing a sender produced is lost, however broken.
func parse(raw []byte) Message {
	msg := Message{Raw: string(raw)}
	var problems []string
	note := func(err error) {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil && !gomessage.IsUnknownCharset(err) {
		msg.ParseError = err.Error()
		return msg
	}
	note(err)
	h := mr.Header
	subject, err := h.Subject()
	msg.Subject = subject
	note(err)
	if from, err := h.AddressList("From"); err == nil {
		msg.From = decodeAddressList(from)
	} else {
		msg.From = h.Get("From")
		note(err)
	}
	msg.MessageID, err = h.MessageID()
	note(err)

	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !gomessage.IsUnknownCharset(err) {
			note(err)
			break
		}
		note(err)
		ih, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			continue // attachments are not shown
		}
		ct, _, _ := ih.ContentType()
		body, err := io.ReadAll(p.Body)
		note(err)
		switch {
		case ct == "text/html" && msg.HTML == "":
			msg.HTML = string(body)
		case (ct == "text/plain" || ct == "") && msg.Text == "":
			msg.Text = string(body)
		}
	}
	msg.Text = strings.ReplaceAll(msg.Text, "\r\n", "\n")
	msg.HTML = strings.ReplaceAll(msg.HTML, "\r\n", "\n")
	msg.ParseError = strings.Join(problems, "; ")
	return msg
}

// decodeAddressList formats addresses for people: names decoded, not re-encoded as
// mail.Address.String would.
func decodeAddressList(list []*mail.Address) string {
	var parts []string
	for _, a := range list {
		if a.Name == "" {
			parts = append(parts, a.Address)
		} else {
			parts = append(parts, a.Name+" <"+a.Address+">")
		}
	}
	return strings.Join(parts, ", ")
}

// newID is unique and sorts by arrival: milliseconds since the epoch, then randomness.
func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%011x", time.Now().UnixMilli()) + hex.EncodeToString(b[:])
}
