// Package apidoc keeps docs/openapi.yaml true to the handlers: it loads the OpenAPI 3.1
// document and checks, from a function's own tests, that every route the function registers
// is documented under its name (x-function) and every operation documented for it is served.
package apidoc

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"vodfc.dev/vodfc/httpapi"
)

// Operation is one documented "METHOD /path" and the function serving it.
type Operation struct {
	Method      string
	Path        string
	OperationID string
	Function    string
}

func (o Operation) String() string { return o.Method + " " + o.Path }

// Doc is the part of an OpenAPI document the check needs.
type Doc struct {
	OpenAPI    string
	Title      string
	Version    string
	Operations []Operation
}

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type rawDoc struct {
	OpenAPI string `yaml:"openapi"`
	Info    struct {
		Title   string `yaml:"title"`
		Version string `yaml:"version"`
	} `yaml:"info"`
	Paths *map[string]map[string]yaml.Node `yaml:"paths"`
}

type rawOperation struct {
	OperationID string `yaml:"operationId"`
	Function    string `yaml:"x-function"`
}

// Load reads an OpenAPI document and checks what every function relies on: version 3.1, a
// paths object, paths starting with "/", an x-function on every operation and unique
// operationIds. All problems are reported together.
func Load(path string) (*Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw rawDoc
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	if !strings.HasPrefix(raw.OpenAPI, "3.1") {
		errs = append(errs, fmt.Errorf("openapi is %q, want 3.1.x", raw.OpenAPI))
	}
	if raw.Info.Title == "" || raw.Info.Version == "" {
		errs = append(errs, errors.New("info.title and info.version are required"))
	}
	if raw.Paths == nil {
		errs = append(errs, errors.New("no paths object"))
		raw.Paths = &map[string]map[string]yaml.Node{}
	}
	doc := &Doc{OpenAPI: raw.OpenAPI, Title: raw.Info.Title, Version: raw.Info.Version}
	ids := map[string]string{}
	for p, item := range *raw.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("path %q does not start with /", p))
		}
		for key, node := range item {
			if !slices.Contains(methods, key) {
				continue // parameters, summary, description, servers, $ref
			}
			var op rawOperation
			if err := node.Decode(&op); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", strings.ToUpper(key), p, err))
				continue
			}
			o := Operation{Method: strings.ToUpper(key), Path: p, OperationID: op.OperationID, Function: op.Function}
			if o.Function == "" {
				errs = append(errs, fmt.Errorf("%s has no x-function naming the function that serves it", o))
			}
			if o.OperationID != "" {
				if prev, dup := ids[o.OperationID]; dup {
					errs = append(errs, fmt.Errorf("operationId %q is used by %s and %s", o.OperationID, prev, o))
				}
				ids[o.OperationID] = o.String()
			}
			doc.Operations = append(doc.Operations, o)
		}
	}
	slices.SortFunc(doc.Operations, func(a, b Operation) int { return strings.Compare(a.String(), b.String()) })
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// For lists the operations documented for function.
func (d *Doc) For(function string) []Operation {
	var out []Operation
	for _, o := range d.Operations {
		if o.Function == function {
			out = append(out, o)
		}
	}
	return out
}

// Diff compares the operations documented for function with the routes it registers and
// describes every mismatch; nil means they agree. Paths compare by shape: "{id}" and
// "{videoId}" in the same position are the same parameter, a ServeMux "{rest...}" is one
// parameter, and "{$}" adds nothing.
func Diff(d *Doc, function string, routes []httpapi.Route) []string {
	documented := map[string]Operation{}
	for _, o := range d.For(function) {
		documented[o.Method+" "+shape(o.Path)] = o
	}
	served := map[string]httpapi.Route{}
	var out []string
	for _, r := range routes {
		k := r.Method + " " + shape(r.Path)
		if prev, dup := served[k]; dup {
			out = append(out, fmt.Sprintf("routes %s and %s are the same operation", prev, r))
		}
		served[k] = r
		if _, ok := documented[k]; !ok {
			if o, elsewhere := findOperation(d, k); elsewhere {
				out = append(out, fmt.Sprintf("route %s is documented as %s of function %q, not %q", r, o, o.Function, function))
			} else {
				out = append(out, fmt.Sprintf("route %s is not in the OpenAPI document", r))
			}
		}
	}
	for k, o := range documented {
		if _, ok := served[k]; !ok {
			out = append(out, fmt.Sprintf("operation %s (x-function %s) has no handler", o, function))
		}
	}
	slices.Sort(out)
	return out
}

func findOperation(d *Doc, key string) (Operation, bool) {
	for _, o := range d.Operations {
		if o.Method+" "+shape(o.Path) == key {
			return o, true
		}
	}
	return Operation{}, false
}

// shape replaces every path parameter with "{}".
func shape(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case s == "{$}":
			segs[i] = ""
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// Check fails t when the document at docPath does not load or disagrees with the routes
// function registers (see Diff). Call it from each HTTP function's tests with its Router's
// Routes().
func Check(t testing.TB, docPath, function string, routes []httpapi.Route) {
	t.Helper()
	d, err := Load(docPath)
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
		return
	}
	for _, problem := range Diff(d, function, routes) {
		t.Errorf("OpenAPI document %s: %s", docPath, problem)
	}
}
