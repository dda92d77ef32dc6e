package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in s.yaml.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is one problem in s.yaml, with the place it was found and why it is wrong.
type Error struct {
	Pos    Pos
	Reason string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Reason }

// Errors is every problem found in one pass, in file order, so one run shows them all.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// err returns nil for an empty list so callers can `return errs.err()`.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Pos.Line != es[j].Pos.Line {
			return es[i].Pos.Line < es[j].Pos.Line
		}
		return es[i].Pos.Column < es[j].Pos.Column
	})
	return es
}

type collector struct {
	file string
	errs Errors
}

func (c *collector) add(line, col int, format string, args ...any) {
	c.errs = append(c.errs, &Error{Pos: Pos{File: c.file, Line: line, Column: col}, Reason: fmt.Sprintf(format, args...)})
}
