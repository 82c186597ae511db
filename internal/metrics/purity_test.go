package metrics

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/web4p2p/web4p2p"

// purePackages are the packages STYLE.md calls the pure core: they decide,
// they do not talk to the network, so nothing they link may be an HTTP
// stack or a metrics exporter. Prometheus belongs in this package and in
// node, which wire the core's events and counters to it.
var purePackages = []string{
	"internal/events",
	"trust",
	"knowledge",
	"protocols/envelope",
	"protocols/cip",
	"protocols/hcp",
	"protocols/router",
}

// forbidden reports whether a dependency of a pure package is one that must
// stay out of the core.
func forbidden(pkg string) bool {
	return pkg == "net/http" || strings.HasPrefix(pkg, "net/http/") || strings.Contains(pkg, "prometheus")
}

// TestPureCoreLinksNoHTTPOrPrometheus lists the transitive dependencies of
// each pure package with `go list -deps` and fails, naming the importer,
// when net/http or Prometheus is among them.
func TestPureCoreLinksNoHTTPOrPrometheus(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatalf("no go command on PATH in CI: %v", err)
	}
	if err != nil {
		t.Skipf("SKIPPED: no go command on PATH (%v), so the pure core's dependencies are NOT checked here", err)
	}
	for _, p := range purePackages {
		t.Run(p, func(t *testing.T) {
			out, err := exec.Command(gobin, "list", "-deps",
				"-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/"+p).Output()
			if err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					t.Fatalf("go list -deps %s: %v\n%s", p, err, ee.Stderr)
				}
				t.Fatalf("go list -deps %s: %v", p, err)
			}
			// Each line is a package and its direct imports; name the
			// edges into a forbidden package so the fix is obvious.
			var bad []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Fields(line)
				if len(f) == 0 || forbidden(f[0]) {
					continue
				}
				for _, imp := range f[1:] {
					if forbidden(imp) {
						bad = append(bad, f[0]+" -> "+imp)
					}
				}
			}
			if len(bad) > 0 {
				sort.Strings(bad)
				t.Fatalf("%s links net/http or prometheus:\n\t%s", p, strings.Join(bad, "\n\t"))
			}
		})
	}
}

func TestForbidden(t *testing.T) {
	for pkg, want := range map[string]bool{
		"net/http":           true,
		"net/http/httptrace": true,
		"github.com/prometheus/client_golang/prometheus": true,
		"net":             false,
		"net/url":         false,
		"net/httpish":     false,
		"internal/events": false,
	} {
		if got := forbidden(pkg); got != want {
			t.Errorf("forbidden(%q) = %v, want %v", pkg, got, want)
		}
	}
}
