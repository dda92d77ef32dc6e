package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FC3 defaults for props s.yaml may leave out.
const (
	defaultMemoryMB     = 512
	defaultCPU          = 0.35
	defaultDiskMB       = 512
	defaultTimeout      = 3 * time.Second
	defaultHookTimeout  = 3 * time.Second
	defaultAsyncRetries = 3
	defaultEventAge     = 24 * time.Hour
	defaultCustomPort   = 9000
)

// Load reads and resolves the s.yaml at path and checks it with Validate: the local cloud
// refuses what `s deploy` or Function Compute would refuse.
func Load(path string, opts Options) (*Manifest, error) {
	m, err := Parse(path, opts)
	if err != nil {
		return nil, err
	}
	if err := Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Parse reads and resolves the s.yaml at path without the deploy-time rules of Validate.
func Parse(path string, opts Options) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBytes(path, data, opts)
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// ParseBytes is Parse for s.yaml content already in memory; path is used in messages and to
// resolve relative paths.
func ParseBytes(path string, data []byte, opts Options) (*Manifest, error) {
	opts = opts.withDefaults()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c := &collector{file: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml reports "yaml: line N: reason"; keep the line, drop the prefix.
		line, reason := 0, err.Error()
		if m := yamlLineRE.FindStringSubmatch(reason); m != nil {
			line, _ = strconv.Atoi(m[1])
			reason = m[2]
		}
		c.add(line, 0, "not valid YAML: %s", reason)
		return nil, c.errs.err()
	}
	if len(doc.Content) == 0 {
		c.add(1, 0, "empty file: want edition, name and resources")
		return nil, c.errs.err()
	}
	root := deref(doc.Content[0])
	m := &Manifest{Path: path, Dir: filepath.Dir(abs)}
	d := &decoder{c: c}
	top := d.mapping(root, "the file")
	if top == nil {
		return nil, c.errs.err()
	}
	r := &resolver{c: c, vars: top.get("vars"), resources: map[string]*yaml.Node{}, opts: opts,
		active: map[string]bool{}, unset: map[string]string{}, warn: func(s string) { m.Warnings = append(m.Warnings, s) }}

	defer func() {
		for name, at := range r.unset {
			m.UnsetEnv = append(m.UnsetEnv, EnvRef{Name: name, At: at})
		}
		sort.Slice(m.UnsetEnv, func(i, j int) bool { return m.UnsetEnv[i].Name < m.UnsetEnv[j].Name })
	}()
	m.Edition = d.str(top.need("edition"), "edition")
	if m.Edition != "" && m.Edition != "3.0.0" {
		c.add(top.line("edition"), 0, "edition %q: the fc3 component needs edition: 3.0.0", m.Edition)
	}
	m.Name = d.str(r.resolve(top.need("name")), "name")
	m.Access = d.str(r.resolve(top.get("access")), "access")

	resNode := top.need("resources")
	res := d.mapping(resNode, "resources")
	if res == nil {
		return nil, c.errs.err()
	}
	for _, k := range res.keys {
		r.resources[k] = res.vals[k]
	}
	names := map[string]Pos{}
	for _, k := range res.keys {
		rm := d.mapping(res.vals[k], "resource "+k)
		if rm == nil {
			continue
		}
		pos := Pos{File: path, Line: res.keyNode[k].Line, Column: res.keyNode[k].Column}
		comp := d.str(rm.need("component"), "component")
		switch {
		case comp == "fc3":
			f := d.function(k, rm, r, pos)
			if f == nil {
				continue
			}
			if prev, dup := names[f.Name]; dup && f.Name != "" {
				c.add(pos.Line, pos.Column, "functionName %q is also used by the resource at line %d", f.Name, prev.Line)
			}
			names[f.Name] = pos
			m.Functions = append(m.Functions, f)
		case comp == "fc3-domain":
			if dm := d.domain(k, rm, r, pos); dm != nil {
				m.Domains = append(m.Domains, dm)
			}
		case comp != "":
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s:%d: resource %s uses component %s, which the local cloud does not run", path, pos.Line, k, comp))
		}
	}
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// decoder turns resolved YAML nodes into typed values, collecting every problem.
type decoder struct{ c *collector }

type ymap struct {
	keys    []string
	vals    map[string]*yaml.Node
	keyNode map[string]*yaml.Node
	node    *yaml.Node
	d       *decoder
	what    string
}

func (d *decoder) mapping(n *yaml.Node, what string) *ymap {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.c.add(n.Line, n.Column, "%s must be a map, not a %s", what, kindName(n))
		return nil
	}
	m := &ymap{vals: map[string]*yaml.Node{}, keyNode: map[string]*yaml.Node{}, node: n, d: d, what: what}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			d.c.add(k.Line, k.Column, "keys in %s must be plain names", what)
			continue
		}
		if _, dup := m.vals[k.Value]; dup {
			d.c.add(k.Line, k.Column, "%s is given twice in %s", k.Value, what)
			continue
		}
		m.keys = append(m.keys, k.Value)
		m.vals[k.Value] = n.Content[i+1]
		m.keyNode[k.Value] = k
	}
	return m
}

func (m *ymap) get(k string) *yaml.Node {
	if m == nil {
		return nil
	}
	v := deref(m.vals[k])
	if v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	return v
}

func (m *ymap) has(k string) bool {
	if m == nil {
		return false
	}
	_, ok := m.vals[k]
	return ok
}

func (m *ymap) need(k string) *yaml.Node {
	v := m.get(k)
	if v == nil {
		m.d.c.add(m.node.Line, m.node.Column, "%s: %s is required", m.what, k)
	}
	return v
}

func (m *ymap) line(k string) int {
	if kn, ok := m.keyNode[k]; ok {
		return kn.Line
	}
	return m.node.Line
}

func (m *ymap) pos(k string) Pos {
	if kn, ok := m.keyNode[k]; ok {
		return Pos{File: m.d.c.file, Line: kn.Line, Column: kn.Column}
	}
	return Pos{File: m.d.c.file, Line: m.node.Line, Column: m.node.Column}
}

func (d *decoder) str(n *yaml.Node, what string) string {
	n = deref(n)
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.c.add(n.Line, n.Column, "%s must be a single value, not a %s", what, kindName(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func (d *decoder) num(n *yaml.Node, what string) (float64, bool) {
	s := d.str(n, what)
	if n == nil || s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.c.add(n.Line, n.Column, "%s must be a number, not %q", what, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	s := d.str(n, what)
	if n == nil || s == "" {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.c.add(n.Line, n.Column, "%s must be a whole number, not %q", what, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, what string, def bool) bool {
	s := d.str(n, what)
	if n == nil || s == "" {
		return def
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	d.c.add(n.Line, n.Column, "%s must be true or false, not %q", what, s)
	return def
}

func (d *decoder) strs(n *yaml.Node, what string) []string {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.c.add(n.Line, n.Column, "%s must be a list, not a %s", what, kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, it := range n.Content {
		out = append(out, d.str(it, what+" item"))
	}
	return out
}

func (d *decoder) seconds(n *yaml.Node, what string, def time.Duration) time.Duration {
	v, ok := d.integer(n, what)
	if !ok {
		return def
	}
	return time.Duration(v) * time.Second
}

func (d *decoder) function(resource string, rm *ymap, r *resolver, pos Pos) *Function {
	f := &Function{Resource: resource, Pos: pos, fields: map[string]Pos{}, Env: map[string]string{}}
	f.Build = d.build(rm, r)
	propsNode := rm.need("props")
	if propsNode == nil {
		return nil
	}
	p := d.mapping(r.resolve(propsNode), "props of "+resource)
	if p == nil {
		return nil
	}
	for _, k := range p.keys {
		f.fields[k] = p.pos(k)
	}
	f.Region = d.str(p.need("region"), "region")
	f.Name = d.str(p.need("functionName"), "functionName")
	f.Runtime = d.str(p.need("runtime"), "runtime")
	f.Handler = d.str(p.get("handler"), "handler")
	f.Code = d.str(p.get("code"), "code")
	if cn := p.get("code"); cn != nil && cn.Kind == yaml.MappingNode {
		f.Code = "" // code from OSS (ossBucketName/ossObjectName) has no local directory
	}
	f.Description = d.str(p.get("description"), "description")
	f.MemorySize = defaultMemoryMB
	if v, ok := d.integer(p.get("memorySize"), "memorySize"); ok {
		f.MemorySize = v
	}
	f.CPU = defaultCPU
	if v, ok := d.num(p.get("cpu"), "cpu"); ok {
		f.CPU = v
	}
	f.DiskSize = defaultDiskMB
	if v, ok := d.integer(p.get("diskSize"), "diskSize"); ok {
		f.DiskSize = v
	}
	f.Timeout = d.seconds(p.get("timeout"), "timeout", defaultTimeout)
	if v, ok := d.integer(p.get("instanceConcurrency"), "instanceConcurrency"); ok {
		f.InstanceConcurrency = v
	}
	if crc := d.mapping(p.get("customRuntimeConfig"), "customRuntimeConfig"); crc != nil {
		f.Custom = &CustomRuntime{Command: d.strs(crc.get("command"), "customRuntimeConfig.command"),
			Args: d.strs(crc.get("args"), "customRuntimeConfig.args"), Port: defaultCustomPort}
		if v, ok := d.integer(crc.get("port"), "customRuntimeConfig.port"); ok {
			f.Custom.Port = v
		}
	}
	f.Layers = d.strs(p.get("layers"), "layers")
	if env := d.mapping(p.get("environmentVariables"), "environmentVariables"); env != nil {
		for _, k := range env.keys {
			f.Env[k] = d.str(env.get(k), "environment variable "+k)
			f.fields["env."+k] = env.pos(k)
		}
	}
	if lc := d.mapping(p.get("instanceLifecycleConfig"), "instanceLifecycleConfig"); lc != nil {
		f.Initializer = d.hook(lc.get("initializer"), "initializer")
		f.PreStop = d.hook(lc.get("preStop"), "preStop")
	}
	f.Async = Async{MaxRetries: defaultAsyncRetries, MaxEventAge: defaultEventAge}
	if ac := d.mapping(p.get("asyncInvokeConfig"), "asyncInvokeConfig"); ac != nil {
		if v, ok := d.integer(ac.get("maxAsyncRetryAttempts"), "maxAsyncRetryAttempts"); ok {
			f.Async.MaxRetries = v
		}
		f.Async.MaxEventAge = d.seconds(ac.get("maxAsyncEventAgeInSeconds"), "maxAsyncEventAgeInSeconds", defaultEventAge)
		if dc := d.mapping(ac.get("destinationConfig"), "destinationConfig"); dc != nil {
			if of := d.mapping(dc.get("onFailure"), "onFailure"); of != nil {
				f.Async.OnFailure = d.str(of.need("destination"), "onFailure.destination")
			}
			if os := d.mapping(dc.get("onSuccess"), "onSuccess"); os != nil {
				f.Async.OnSuccess = d.str(os.need("destination"), "onSuccess.destination")
			}
		}
		for _, k := range ac.keys {
			f.fields["async."+k] = ac.pos(k)
		}
	}
	if tn := p.get("triggers"); tn != nil {
		if tn.Kind != yaml.SequenceNode {
			d.c.add(tn.Line, tn.Column, "triggers must be a list, not a %s", kindName(tn))
		} else {
			for _, it := range tn.Content {
				if t := d.trigger(it); t != nil {
					f.Triggers = append(f.Triggers, t)
				}
			}
		}
	}
	return f
}

func (d *decoder) hook(n *yaml.Node, what string) *Hook {
	m := d.mapping(n, what)
	if m == nil {
		return nil
	}
	return &Hook{Handler: d.str(m.get("handler"), what+".handler"), Timeout: d.seconds(m.get("timeout"), what+".timeout", defaultHookTimeout)}
}

func (d *decoder) trigger(n *yaml.Node) *Trigger {
	m := d.mapping(n, "trigger")
	if m == nil {
		return nil
	}
	t := &Trigger{Pos: Pos{File: d.c.file, Line: m.node.Line, Column: m.node.Column}, fields: map[string]Pos{}}
	for _, k := range m.keys {
		t.fields[k] = m.pos(k)
	}
	t.Name = d.str(m.need("triggerName"), "triggerName")
	t.Type = d.str(m.need("triggerType"), "triggerType")
	t.Qualifier = d.str(m.get("qualifier"), "qualifier")
	t.Description = d.str(m.get("description"), "description")
	t.SourceArn = d.str(m.get("sourceArn"), "sourceArn")
	cfg := d.mapping(m.get("triggerConfig"), "triggerConfig")
	if cfg != nil {
		for _, k := range cfg.keys {
			t.fields["triggerConfig."+k] = cfg.pos(k)
		}
	}
	switch t.Type {
	case TriggerHTTP:
		if cfg == nil {
			m.need("triggerConfig")
			return t
		}
		t.AuthType = d.str(cfg.get("authType"), "authType")
		if t.AuthType == "" {
			t.AuthType = "anonymous"
		}
		t.Methods = d.strs(cfg.need("methods"), "methods")
		for i, x := range t.Methods {
			t.Methods[i] = strings.ToUpper(x)
		}
	case TriggerOSS:
		if i := strings.LastIndex(t.SourceArn, ":"); i >= 0 {
			t.Bucket = t.SourceArn[i+1:]
		}
		if cfg == nil {
			m.need("triggerConfig")
			return t
		}
		t.Events = d.strs(cfg.need("events"), "events")
		if fm := d.mapping(cfg.get("filter"), "filter"); fm != nil {
			if km := d.mapping(fm.get("key"), "filter.key"); km != nil {
				t.HasPrefix, t.HasSuffix = km.has("prefix"), km.has("suffix")
				t.Prefix = d.str(km.get("prefix"), "filter.key.prefix")
				t.Suffix = d.str(km.get("suffix"), "filter.key.suffix")
				t.fields["prefix"], t.fields["suffix"] = km.pos("prefix"), km.pos("suffix")
			}
		}
	case TriggerTimer:
		if cfg == nil {
			m.need("triggerConfig")
			return t
		}
		t.Cron = strings.TrimSpace(d.str(cfg.need("cronExpression"), "cronExpression"))
		t.Enabled = d.boolean(cfg.get("enable"), "enable", true)
		t.Payload = d.str(cfg.get("payload"), "payload")
	}
	return t
}

func (d *decoder) domain(resource string, rm *ymap, r *resolver, pos Pos) *Domain {
	propsNode := rm.need("props")
	if propsNode == nil {
		return nil
	}
	p := d.mapping(r.resolve(propsNode), "props of "+resource)
	if p == nil {
		return nil
	}
	dm := &Domain{Resource: resource, Pos: pos}
	dm.Name = d.str(p.need("domainName"), "domainName")
	dm.Protocol = d.str(p.get("protocol"), "protocol")
	rc := d.mapping(p.need("routeConfig"), "routeConfig")
	if rc == nil {
		return dm
	}
	routes := rc.need("routes")
	if routes == nil {
		return dm
	}
	if routes.Kind != yaml.SequenceNode {
		d.c.add(routes.Line, routes.Column, "routes must be a list, not a %s", kindName(routes))
		return dm
	}
	for _, it := range routes.Content {
		m := d.mapping(it, "route")
		if m == nil {
			continue
		}
		rt := &Route{Pos: Pos{File: d.c.file, Line: m.node.Line, Column: m.node.Column}}
		rt.Path = d.str(m.need("path"), "path")
		rt.Function = d.str(m.need("functionName"), "functionName")
		rt.Methods = d.strs(m.get("methods"), "methods")
		for i, x := range rt.Methods {
			rt.Methods[i] = strings.ToUpper(x)
		}
		rt.Qualifier = d.str(m.get("qualifier"), "qualifier")
		dm.Routes = append(dm.Routes, rt)
	}
	return dm
}

// build finds the `go build` among the resource's pre-deploy actions.
func (d *decoder) build(rm *ymap, r *resolver) *Build {
	an := rm.get("actions")
	if an == nil {
		return nil
	}
	am := d.mapping(r.resolve(an), "actions")
	if am == nil {
		return nil
	}
	pre := am.get("pre-deploy")
	if pre == nil {
		return nil
	}
	if pre.Kind != yaml.SequenceNode {
		d.c.add(pre.Line, pre.Column, "pre-deploy must be a list, not a %s", kindName(pre))
		return nil
	}
	for _, it := range pre.Content {
		step := d.mapping(it, "pre-deploy step")
		if step == nil || step.get("run") == nil {
			continue
		}
		run := d.str(step.get("run"), "run")
		words, err := shellWords(run)
		if err != nil {
			d.c.add(step.line("run"), 0, "run: %v", err)
			continue
		}
		b, ok := parseGoBuild(words)
		if !ok {
			continue
		}
		b.Run = run
		b.Dir = d.str(step.get("path"), "path")
		b.Pos = step.pos("run")
		if b.Package == "" {
			d.c.add(b.Pos.Line, b.Pos.Column, "go build in pre-deploy names no package to build")
		}
		return b
	}
	return nil
}

// goBuildValueFlags are the go build flags that take their value as the next word.
var goBuildValueFlags = map[string]bool{
	"-o": true, "-ldflags": true, "-gcflags": true, "-asmflags": true, "-tags": true, "-mod": true,
	"-modfile": true, "-buildmode": true, "-p": true, "-pkgdir": true, "-toolexec": true,
	"-overlay": true, "-pgo": true, "-C": true, "-installsuffix": true, "-compiler": true,
	"-gccgoflags": true, "-buildvcs": false,
}

// parseGoBuild finds `go build ... PKG` in a shell command (after VAR=value assignments, and
// after `&&` of an earlier command).
func parseGoBuild(words []string) (*Build, bool) {
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "go" || words[i+1] != "build" {
			continue
		}
		b := &Build{Env: map[string]string{}}
		for j := i - 1; j >= 0; j-- {
			k, v, ok := strings.Cut(words[j], "=")
			if !ok || k == "" || strings.ContainsAny(k, "-/.") {
				break
			}
			b.Env[k] = v
		}
		for j := i + 2; j < len(words); j++ {
			w := words[j]
			if w == "&&" || w == ";" || w == "||" {
				break
			}
			if strings.HasPrefix(w, "-") {
				name, val, hasVal := strings.Cut(strings.Replace(w, "--", "-", 1), "=")
				if name == "-o" {
					if hasVal {
						b.Output = val
					} else if j+1 < len(words) {
						b.Output = words[j+1]
					}
				}
				if !hasVal && goBuildValueFlags[name] {
					j++
				}
				continue
			}
			b.Package = w
		}
		return b, true
	}
	return nil, false
}

// shellWords splits a command line the way sh would for the simple commands s.yaml holds:
// blanks separate words, quotes group, a backslash escapes.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
