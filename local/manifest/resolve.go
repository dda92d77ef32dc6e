package manifest

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// exprRE finds ${...} expressions. Serverless Devs does not nest them, neither do we.
var exprRE = regexp.MustCompile(`\$\{([^{}]*)\}`)

// resolver replaces the ${...} expressions Serverless Devs understands with their values.
type resolver struct {
	c         *collector
	vars      *yaml.Node
	resources map[string]*yaml.Node // resource name -> its mapping node
	opts      Options
	active    map[string]bool   // expressions being resolved: a cycle guard
	unset     map[string]string // ${env(NAME)} that resolved empty → where first used
	warn      func(string)
}

// resolve returns a copy of n with every expression replaced. Problems are collected; the
// offending scalar is kept as written so decoding can go on and report more.
func (r *resolver) resolve(n *yaml.Node) *yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode, yaml.DocumentNode:
		out := *n
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				out.Content[i] = c // keys stay as written
				continue
			}
			out.Content[i] = r.resolve(c)
		}
		return &out
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return n
		}
		return r.scalar(n)
	}
	return n
}

func (r *resolver) scalar(n *yaml.Node) *yaml.Node {
	locs := exprRE.FindAllStringSubmatchIndex(n.Value, -1)
	if len(locs) != strings.Count(n.Value, "${") {
		r.c.add(n.Line, n.Column, "unterminated ${ in %q", n.Value)
		return n
	}
	// A scalar that is exactly one expression takes the value's own type: a map for
	// ${vars.logConfig}, a number for ${vars.memory}.
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(n.Value) {
		v, ok := r.eval(n.Value[locs[0][2]:locs[0][3]], n)
		if !ok {
			return n
		}
		if v.Kind == yaml.ScalarNode {
			out := *v
			out.Line, out.Column = n.Line, n.Column
			return &out
		}
		return v
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(n.Value[last:l[0]])
		v, ok := r.eval(n.Value[l[2]:l[3]], n)
		if !ok {
			return n
		}
		if v.Kind != yaml.ScalarNode {
			r.c.add(n.Line, n.Column, "${%s} is a %s and cannot be part of a string", n.Value[l[2]:l[3]], kindName(v))
			return n
		}
		b.WriteString(v.Value)
		last = l[1]
	}
	b.WriteString(n.Value[last:])
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: b.String(), Line: n.Line, Column: n.Column}
}

func (r *resolver) eval(expr string, at *yaml.Node) (*yaml.Node, bool) {
	expr = strings.TrimSpace(expr)
	fail := func(format string, args ...any) (*yaml.Node, bool) {
		r.c.add(at.Line, at.Column, "${%s}: %s", expr, fmt.Sprintf(format, args...))
		return nil, false
	}
	if r.active[expr] {
		return fail("refers to itself")
	}
	r.active[expr] = true
	defer delete(r.active, expr)

	switch {
	case strings.HasPrefix(expr, "vars."):
		if r.vars == nil {
			return fail("there is no vars: section")
		}
		v, err := lookup(r.vars, strings.Split(strings.TrimPrefix(expr, "vars."), "."))
		if err != nil {
			return fail("%v", err)
		}
		return r.resolveChecked(v)
	case strings.HasPrefix(expr, "resources."):
		parts := strings.Split(strings.TrimPrefix(expr, "resources."), ".")
		if len(parts) < 3 || parts[1] != "props" {
			return fail("the local cloud understands resources.NAME.props.FIELD")
		}
		res, ok := r.resources[parts[0]]
		if !ok {
			return fail("there is no resource %q", parts[0])
		}
		v, err := lookup(res, parts[1:])
		if err != nil {
			return fail("%v", err)
		}
		return r.resolveChecked(v)
	case strings.HasPrefix(expr, "config(") && strings.HasSuffix(expr, ")"):
		args, err := callArgs(expr[len("config(") : len(expr)-1])
		if err != nil || len(args) != 1 {
			return fail("want config('AccountID')")
		}
		switch args[0] {
		case "AccountID":
			return str(r.opts.AccountID, at), true
		}
		return fail("config('%s') is not available locally: the local cloud never reads cloud credentials; only config('AccountID') is", args[0])
	case strings.HasPrefix(expr, "env(") && strings.HasSuffix(expr, ")"):
		args, err := callArgs(expr[len("env(") : len(expr)-1])
		if err != nil || len(args) < 1 || len(args) > 2 {
			return fail("want env('NAME') or env('NAME', 'default')")
		}
		name := args[0]
		if credentialVar(name) {
			r.warn(fmt.Sprintf("%s:%d: ${%s} reads a cloud credential; the local cloud leaves it empty", r.c.file, at.Line, expr))
			return str("", at), true
		}
		v := r.opts.Getenv(name)
		if v == "" && len(args) == 2 {
			v = args[1]
		}
		if _, seen := r.unset[name]; v == "" && !seen {
			r.unset[name] = fmt.Sprintf("%s:%d", r.c.file, at.Line)
		}
		return str(v, at), true
	}
	return fail("not understood; the local cloud resolves vars.*, resources.NAME.props.*, config('AccountID') and env('NAME')")
}

// resolveChecked resolves the node an expression points at, and reports whether that worked.
func (r *resolver) resolveChecked(v *yaml.Node) (*yaml.Node, bool) {
	before := len(r.c.errs)
	out := r.resolve(v)
	return out, len(r.c.errs) == before
}

// credentialVar reports whether an environment variable holds real cloud credentials, which
// local mode must never read.
func credentialVar(name string) bool {
	u := strings.ToUpper(name)
	return strings.HasPrefix(u, "ALIBABA_CLOUD_") || strings.HasPrefix(u, "ALICLOUD_") ||
		strings.HasPrefix(u, "ALIYUN_") || strings.Contains(u, "ACCESS_KEY") ||
		strings.Contains(u, "SECRET") || strings.Contains(u, "SECURITY_TOKEN")
}

func str(v string, at *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: at.Line, Column: at.Column}
}

// callArgs splits the arguments of config(...) / env(...): quoted with ' or ", or bare.
func callArgs(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if len(a) >= 2 && (a[0] == '\'' && a[len(a)-1] == '\'' || a[0] == '"' && a[len(a)-1] == '"') {
			a = a[1 : len(a)-1]
		}
		if a == "" || strings.ContainsAny(a, `'"`) {
			return nil, fmt.Errorf("bad argument")
		}
		out = append(out, a)
	}
	return out, nil
}

func lookup(n *yaml.Node, path []string) (*yaml.Node, error) {
	cur := deref(n)
	for i, p := range path {
		switch cur.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for j := 0; j+1 < len(cur.Content); j += 2 {
				if cur.Content[j].Value == p {
					next = deref(cur.Content[j+1])
					break
				}
			}
			if next == nil {
				return nil, fmt.Errorf("no %q in %s", p, strings.Join(path[:i], ".")+" (line "+strconv.Itoa(cur.Line)+")")
			}
			cur = next
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(cur.Content) {
				return nil, fmt.Errorf("no item %q in the list at line %d", p, cur.Line)
			}
			cur = deref(cur.Content[idx])
		default:
			return nil, fmt.Errorf("%s is a %s, it has no %q", strings.Join(path[:i], "."), kindName(cur), p)
		}
	}
	return cur, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "value"
	}
	return "node"
}

// Options tune how s.yaml is read.
type Options struct {
	// AccountID is ${config('AccountID')}; LocalAccountID when empty.
	AccountID string
	// Getenv looks up ${env('NAME')}; os.Getenv when nil. Names that hold cloud credentials
	// are never looked up.
	Getenv func(string) string
}

func (o Options) withDefaults() Options {
	if o.AccountID == "" {
		o.AccountID = LocalAccountID
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	return o
}
