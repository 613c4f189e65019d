// Package layout holds the tests that keep the repository's package layout
// as docs/LAYOUT.md draws it: the contracts link no cloud SDK, and the root
// holds main.go only.
package layout

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository (this package lives in tools/layout).
const root = "../.."

// sdkPrefixes are import paths of the SDKs behind the stores and cloud
// actions (AWS, Azure, etcd with its gRPC transport). Only the provider
// subpackages (election/etcd, election/dynamodb, election/azblob,
// cloud/aws, cloud/azure) and the command line may link them.
var sdkPrefixes = []string{
	"github.com/aws/",
	"github.com/Azure/",
	"github.com/AzureAD/",
	"go.etcd.io/",
	"google.golang.org/grpc",
}

// TestContractsLinkNoSDK: the agent, the election engine and the cloud
// Action contract compile without any SDK, so a reader of those packages
// meets no SDK type and a provider can change without touching them.
func TestContractsLinkNoSDK(t *testing.T) {
	for _, goos := range []string{"linux", "windows"} {
		cmd := exec.Command("go", "list", "-deps", "./agent", "./election", "./cloud")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOOS=%s %s: %v\n%s", goos, cmd, err, out)
		}
		pkgs := strings.Fields(string(out))
		if len(pkgs) < 10 {
			t.Fatalf("GOOS=%s go list -deps listed only %v", goos, pkgs)
		}
		for _, p := range pkgs {
			for _, prefix := range sdkPrefixes {
				if strings.HasPrefix(p, prefix) {
					t.Errorf("GOOS=%s: agent, election or cloud depend on SDK package %s (keep SDK code in a provider subpackage)", goos, p)
				}
			}
		}
	}
}

// TestRootHoldsMainOnly: the command line lives in cmdline; the root has
// main.go and no other Go file.
func TestRootHoldsMainOnly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || filepath.Base(files[0]) != "main.go" {
		t.Fatalf("Go files at the repository root: %v, want main.go only", files)
	}
}

// allowed are the lbhc packages each package may import (docs/LAYOUT.md):
// the parts import none of each other, a provider or store subpackage only
// its contract, and only the agent and the command line put parts together.
// A package not listed (tests' helpers, e2e, tools, scripts) is not checked.
var allowed = map[string][]string{
	"":                      {"cmdline"},
	"cmdline":               {"*"},
	"agent":                 {"check", "cloud", "election", "probe", "vip", "peer", "configerr", "childenv"},
	"probe":                 {"configerr"},
	"vip":                   {"configerr"},
	"check":                 {"configerr", "childenv"},
	"election":              {"configerr"},
	"election/etcd":         {"election", "configerr"},
	"election/dynamodb":     {"election", "configerr"},
	"election/azblob":       {"election", "configerr"},
	"election/electiontest": {"election"},
	"cloud":                 {"configerr", "childenv"},
	"cloud/aws":             {"cloud", "configerr"},
	"cloud/azure":           {"cloud", "configerr"},
	"cloud/cloudtest":       {},
	"peer":                  {"configerr"},
	"configerr":             {},
	"childenv":              {},
}

// TestImportRules: which package may import which, as LAYOUT.md draws it.
func TestImportRules(t *testing.T) {
	const mod = "github.com/lbhc/lbhc"
	for _, goos := range []string{"linux", "windows"} {
		cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOFLAGS=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOOS=%s %s: %v", goos, cmd, err)
		}
		seen := 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], mod), "/")
			rules, ok := allowed[pkg]
			if !ok {
				continue
			}
			seen++
			for _, imp := range f[1:] {
				if imp != mod && !strings.HasPrefix(imp, mod+"/") {
					continue
				}
				dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
				ok := false
				for _, r := range rules {
					ok = ok || r == "*" || r == dep
				}
				if !ok {
					t.Errorf("GOOS=%s: %s imports %s; allowed: %v (docs/LAYOUT.md)", goos, f[0], imp, rules)
				}
			}
		}
		if seen != len(allowed) {
			t.Errorf("GOOS=%s: found %d of the %d packages the rules name; update allowed", goos, seen, len(allowed))
		}
	}
}
