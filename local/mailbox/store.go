package mailbox

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// diskStore keeps one JSON file per message, named so that names sort by arrival.
type diskStore struct {
	dir  string
	keep int
	log  *slog.Logger
	mu   sync.Mutex // serialises trims
}

// openDiskStore creates dir if needed and returns the newest keep messages found there,
// oldest first. Unreadable files are reported and left alone, never deleted.
func openDiskStore(dir string, keep int, log *slog.Logger) (*diskStore, []Message, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("mailbox: %w", err)
	}
	d := &diskStore{dir: dir, keep: keep, log: log}
	names, err := d.names()
	if err != nil {
		return nil, nil, err
	}
	if len(names) > keep {
		names = names[len(names)-keep:]
	}
	var msgs []Message
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		var msg Message
		if err == nil {
			err = json.Unmarshal(b, &msg)
		}
		if err != nil {
			log.Warn("skipping unreadable stored message", "file", name, "err", err)
			continue
		}
		msgs = append(msgs, msg)
	}
	return d, msgs, nil
}

func (d *diskStore) file(msg Message) string {
	return fmt.Sprintf("%020d-%s.json", msg.ReceivedAt.UnixNano(), msg.ID)
}

// save writes msg atomically: a crash leaves either the whole file or none.
func (d *diskStore) save(msg Message) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.dir, ".incoming-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(d.dir, d.file(msg)))
}

// trim removes the oldest files beyond keep.
func (d *diskStore) trim() {
	d.mu.Lock()
	defer d.mu.Unlock()
	names, err := d.names()
	if err != nil {
		d.log.Warn("listing stored messages", "err", err)
		return
	}
	for len(names) > d.keep {
		if err := os.Remove(filepath.Join(d.dir, names[0])); err != nil && !os.IsNotExist(err) {
			d.log.Warn("removing old message", "file", names[0], "err", err)
		}
		names = names[1:]
	}
}

// names lists the message files, oldest first.
func (d *diskStore) names() ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}
