package binsize

import (
	"bufio"
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pkgSize is the code and read-only data of one package path (bytes).
type pkgSize struct {
	pkg  string
	size int64
}

// topPackages sums go tool nm -size output by package path and returns
// the n largest. Only text and read-only data count (kinds T, t, R, r):
// nm also lists zeroed data under D (crypto/internal/fips140/drbg.memory,
// 32 MiB) that takes no room in the file.
func topPackages(nm []byte, n int) []pkgSize {
	sums := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(nm))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.Contains("TtRr", f[2]) || len(f[2]) != 1 {
			continue // address, size, kind, name (may contain spaces)
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		sums[symbolPackage(strings.Join(f[3:], " "))] += size
	}
	out := make([]pkgSize, 0, len(sums))
	for p, s := range sums {
		out = append(out, pkgSize{p, s})
	}
	slices.SortFunc(out, func(a, b pkgSize) int {
		return cmp.Or(cmp.Compare(b.size, a.size), strings.Compare(a.pkg, b.pkg))
	})
	return out[:min(n, len(out))]
}

// symbolPackage returns the package path of a Go symbol name: what comes
// before the first "." after the last "/", ignoring a "type:" or
// "go:itab." prefix and anything from the first "(", "[" or space on
// (receivers and type arguments name other packages).
func symbolPackage(sym string) string {
	for _, p := range []string{"type:", "go:itab.", "*"} {
		sym = strings.TrimPrefix(sym, p)
	}
	if i := strings.IndexAny(sym, "([ "); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndex(sym, "/")
	if dot := strings.Index(sym[slash+1:], "."); dot >= 0 {
		return sym[:slash+1+dot]
	}
	return sym
}

func TestTopPackages(t *testing.T) {
	nm := []byte(" 4a1000 300 T github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).ReplaceRoute\n" +
		" 4a2000 200 t github.com/aws/aws-sdk-go-v2/service/ec2.addOperationMiddlewares\n" +
		" 4b0000 250 R type:*github.com/aws/aws-sdk-go-v2/service/ec2.Client\n" +
		" 4c0000 400 T github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime.(*Poller[go.shape.struct { github.com/x/y.Z }]).Poll\n" +
		" 4d0000 100 T runtime.mallocgc\n" +
		" 4e0000 33554432 D crypto/internal/fips140/drbg.memory\n" +
		"         U undefined\n")
	got := topPackages(nm, 2)
	want := []pkgSize{{"github.com/aws/aws-sdk-go-v2/service/ec2", 750}, {"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime", 400}}
	if !slices.Equal(got, want) {
		t.Fatalf("topPackages = %v, want %v", got, want)
	}
}
