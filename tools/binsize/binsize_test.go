// Package binsize guards the size of the shipped binary. See
// BENCHMARKS.md ("Binary size") for how the budget was met.
package binsize

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// budget is the largest stripped linux/amd64 binary the project ships
// (bytes): 25 MiB with every backend and action compiled in.
const budget = 25 << 20

// forbidden are symbols of operations lbhc never calls. Each one linked
// means a type with hundreds of methods reached an interface value, `any`
// or fmt (directly or as a field of a type that did): the command line's
// text/template makes the linker keep every exported method of such a type
// (see cloud/aws/awsclient.go). A prefix ending in "." or "/" forbids a whole
// package tree.
var forbidden = []string{
	"github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstances",
	"github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).DescribeInstances",
	"github.com/aws/aws-sdk-go-v2/service/route53.(*Client).CreateHostedZone",
	"github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).Scan",
	"github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).DeleteTable",
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6.(*RoutesClient).BeginDelete",
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container.(*Client).NewListBlobsFlatPager",
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob.(*Client).CommitBlockList",
	"github.com/vishvananda/netlink.(*Handle).XfrmStateAdd",
	// Linked by package init from azblob >= 1.8.1 (Arrow list format).
	"github.com/apache/arrow-go/",
	"github.com/goccy/go-json.",
	// The DynamoDB SDK's schema tables (>= 1.69.0, pinned at 1.68.0):
	// built at package initialisation, so always linked.
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas.",
}

// build runs the release build (scripts/build.sh's flags) for
// linux/amd64, with ldflags replaced when strip is false.
func build(t *testing.T, out string, strip bool) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if strip {
		cmd = exec.Command("bash", filepath.Join(root, "scripts/build.sh"), "linux", "amd64", out)
	} else {
		// The same build without -s -w, so that go tool nm sees the
		// symbols the stripped binary has code for.
		cmd = exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", buildTags(t, root), "-ldflags", "-buildid=", "-o", out, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=", "GOAMD64=v1")
	}
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
}

// buildTags returns the tags scripts/build.sh builds with (its "tags="
// line), so that the unstripped build links what the release one does.
func buildTags(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "scripts/build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^tags=([a-z0-9_,]*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal(`scripts/build.sh has no "tags=" line`)
	}
	return string(m[1])
}

func TestBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; not in -short")
	}
	out := filepath.Join(t.TempDir(), "lbhc")
	build(t, out, true)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stripped linux/amd64 binary: %d bytes (%.1f MiB), budget %.0f MiB", fi.Size(), float64(fi.Size())/(1<<20), float64(budget)/(1<<20))
	if fi.Size() > budget {
		t.Errorf("stripped linux/amd64 binary is %d bytes (%.1f MiB), over the %d MiB budget; find what grew with go tool nm -size -sort size on an unstripped build",
			fi.Size(), float64(fi.Size())/(1<<20), budget>>20)
		// Where the bytes are, to compare with BENCHMARKS.md's table.
		full := filepath.Join(t.TempDir(), "lbhc-unstripped")
		build(t, full, false)
		nm, err := exec.Command("go", "tool", "nm", "-size", full).Output()
		if err != nil {
			t.Fatalf("go tool nm: %v", err)
		}
		for _, p := range topPackages(nm, 30) {
			t.Logf("%10d %s", p.size, p.pkg)
		}
	}
}

func TestBinarySymbols(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; not in -short")
	}
	out := filepath.Join(t.TempDir(), "lbhc")
	build(t, out, false)
	nm, err := exec.Command("go", "tool", "nm", out).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	found := linked(nm, forbidden)
	for _, f := range forbidden {
		if sym, ok := found[f]; ok {
			t.Errorf("%s is linked, but lbhc never calls it: an SDK client (or another type with many methods) reached an interface value, any or fmt; hold it in a struct of method values (cloud/aws/awsclient.go)", sym)
		}
	}
	// The check itself must see the operations lbhc does call.
	for _, want := range []string{
		"github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).ReplaceRoute",
		"github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).PutItem",
		"github.com/aws/aws-sdk-go-v2/service/route53.(*Client).ChangeResourceRecordSets",
	} {
		if _, ok := linked(nm, []string{want})[want]; !ok {
			t.Errorf("%s is not in go tool nm's output: the symbol check would not see a regression", want)
		}
	}
}

// linked maps each of names found in go tool nm output to the first
// matching symbol: an exact name, or any symbol under a prefix ending in
// "/" or ".".
func linked(nm []byte, names []string) map[string]string {
	found := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(nm))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		sym := strings.Join(f[2:], " ") // address, kind, name (may contain spaces)
		for _, n := range names {
			if _, ok := found[n]; ok {
				continue
			}
			prefix := strings.HasSuffix(n, "/") || strings.HasSuffix(n, ".")
			if sym == n || (prefix && strings.HasPrefix(sym, n)) {
				found[n] = sym
			}
		}
	}
	return found
}

func TestLinked(t *testing.T) {
	nm := []byte(" 4a1000 T github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstances\n" +
		" 4a2000 T github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstancesX\n" +
		" 4b0000 R github.com/apache/arrow-go/v18/arrow.init\n" +
		"         U undefined\n")
	got := linked(nm, []string{
		"github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstances",
		"github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).Scan",
		"github.com/apache/arrow-go/",
	})
	if len(got) != 2 || got["github.com/apache/arrow-go/"] != "github.com/apache/arrow-go/v18/arrow.init" ||
		got["github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).RunInstances"] == "" {
		t.Fatalf("linked = %v", got)
	}
}
