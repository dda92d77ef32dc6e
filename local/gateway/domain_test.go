package gateway

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"vodfc.dev/local/manifest"
	"vodfc.dev/vodfc/httpapi/apidoc"
)

// TestEveryDocumentedOperationReachesItsFunction ties the three descriptions of the public API
// together: docs/openapi.yaml names the function serving each operation (x-function), s.yaml's
// custom domain routes paths to functions by prefix, and each function's router keeps the
// routes in its Scope (its own tests compare those with the document). FC picks the function
// by path alone, so an operation documented for one function but routed to another would
// answer 404 in the cloud.
func TestEveryDocumentedOperationReachesItsFunction(t *testing.T) {
	m, err := manifest.Load("../../s.yaml", manifest.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := apidoc.Load("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Routes: Routes(m), Functions: recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	functionName := map[string]string{}
	for _, f := range m.Functions {
		functionName[f.Resource] = f.Name
	}
	param := regexp.MustCompile(`\{[^}]*\}`)
	if len(doc.Operations) == 0 {
		t.Fatal("the document has no operations")
	}
	for _, op := range doc.Operations {
		sample := param.ReplaceAllString(op.Path, "p1")
		route, ok := g.match(sample)
		switch {
		case !ok || route.Strip != "":
			t.Errorf("%s (x-function %s): no route of the custom domain matches %s", op, op.Function, sample)
		case route.Function != functionName[op.Function]:
			t.Errorf("%s: documented for %q but the custom domain routes %s to %s (%s)", op, op.Function, sample, route.Function, route.Source)
		case !slices.Contains(route.allowed(), op.Method):
			t.Errorf("%s: the route %s allows only %s", op, route.Path, strings.Join(route.allowed(), ", "))
		}
	}
}
