package itest

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Skip and Fatal record the message and
// return, so the decisions of Require, Env and WaitTCP can be checked.
type recorder struct {
	testing.TB
	skipped string
	fatal   string
}

func (r *recorder) Skip(args ...any)                 { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatal(args ...any)                { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func TestRequire(t *testing.T) {
	tests := []struct {
		strict      string
		wantSkipped string
		wantFatal   string
	}{
		{"", "etcd missing", ""},
		{"0", "etcd missing", ""},
		{"yes", "etcd missing", ""},
		{"1", "", "etcd missing (LBHC_REQUIRE_INTEGRATION=1: missing prerequisites fail)"},
	}
	for _, tt := range tests {
		t.Run("strict="+tt.strict, func(t *testing.T) {
			t.Setenv(StrictEnv, tt.strict)
			r := &recorder{TB: t}
			Require(r, "etcd missing")
			if r.skipped != tt.wantSkipped || r.fatal != tt.wantFatal {
				t.Errorf("skipped %q fatal %q, want skipped %q fatal %q",
					r.skipped, r.fatal, tt.wantSkipped, tt.wantFatal)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	const name = "LBHC_TEST_ITEST_EXAMPLE"
	wantReason := "LBHC_TEST_ITEST_EXAMPLE is not set: run this test via scripts/test.sh " +
		"(e.g. scripts/test.sh go test -count=1 ./yourpkg/), which starts the test servers"
	tests := []struct {
		desc, value, strict string
		want                string
		wantSkipped         string
		wantFatal           string
	}{
		{"set", "http://127.0.0.1:2379", "1", "http://127.0.0.1:2379", "", ""},
		{"unset", "", "", "", wantReason, ""},
		{"unset strict", "", "1", "", "", wantReason + " (LBHC_REQUIRE_INTEGRATION=1: missing prerequisites fail)"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Setenv(StrictEnv, tt.strict)
			t.Setenv(name, tt.value)
			r := &recorder{TB: t}
			got := Env(r, name)
			if got != tt.want || r.skipped != tt.wantSkipped || r.fatal != tt.wantFatal {
				t.Errorf("Env = %q, skipped %q, fatal %q; want %q, %q, %q",
					got, r.skipped, r.fatal, tt.want, tt.wantSkipped, tt.wantFatal)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	t.Setenv(StrictEnv, "")
	r := &recorder{TB: t}
	Root(r)
	if os.Geteuid() == 0 {
		if r.skipped != "" || r.fatal != "" {
			t.Errorf("as root: skipped %q fatal %q, want neither", r.skipped, r.fatal)
		}
		return
	}
	want := "needs root (network namespaces): run as root, e.g. sudo scripts/test.sh"
	if r.skipped != want {
		t.Errorf("not root: skipped %q, want %q", r.skipped, want)
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d, want 1..65535", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d from FreePort cannot be bound: %v", p, err)
	}
	l.Close()
}

func TestWaitTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := &recorder{TB: t}
	start := time.Now()
	WaitTCP(r, l.Addr().String(), 5*time.Second)
	if r.fatal != "" {
		t.Fatalf("WaitTCP on a listener failed: %s", r.fatal)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("WaitTCP on a listener took %v, want well under 1s", d)
	}
}

func TestWaitTCPTimeout(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))) // nothing listens
	r := &recorder{TB: t}
	const timeout = 300 * time.Millisecond
	start := time.Now()
	WaitTCP(r, addr, timeout)
	d := time.Since(start)
	wantPrefix := "itest: " + addr + " did not accept a TCP connection within 300ms: "
	if !strings.HasPrefix(r.fatal, wantPrefix) {
		t.Errorf("fatal %q, want prefix %q", r.fatal, wantPrefix)
	}
	if d < timeout || d > timeout+time.Second {
		t.Errorf("WaitTCP returned after %v, want about %v", d, timeout)
	}
}

func TestWaitTCPServerExited(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	exited := make(chan struct{})
	close(exited)
	start := time.Now()
	err := waitTCP(addr, 10*time.Second, exited)
	if err == nil || !strings.HasPrefix(err.Error(), addr+": server exited before it accepted connections") {
		t.Errorf("err = %v, want the server-exited error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waitTCP took %v after the server exited, want an early return", d)
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a", 3, "a"},
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 3, "a\nb\nc"},
		{"a\nb\nc\n\n", 1, "c"},
	}
	for _, tt := range tests {
		if got := string(lastLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestAzuriteConnectionString(t *testing.T) {
	tests := []struct {
		host string
		port int
		want string
	}{
		{"127.0.0.1", 10000, "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
			"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
			"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"},
		{"::1", 10001, "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
			"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
			"BlobEndpoint=http://[::1]:10001/devstoreaccount1;"},
	}
	for _, tt := range tests {
		if got := AzuriteConnectionString(tt.host, tt.port); got != tt.want {
			t.Errorf("AzuriteConnectionString(%q, %d) =\n%s\nwant\n%s", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestServerArgs(t *testing.T) {
	tests := []struct {
		desc string
		got  []string
		want string
	}{
		{"azurite", AzuriteArgs("10.201.0.1", 10000),
			"--blobHost 10.201.0.1 --blobPort 10000 --inMemoryPersistence --skipApiVersionCheck --disableTelemetry --silent"},
		{"dynalite", DynaliteArgs("127.0.0.1", 4567), "--host 127.0.0.1 --port 4567"},
		{"etcd", EtcdArgs("n1", "/tmp/d", "::1", 2379, 2380),
			"--name n1 --data-dir /tmp/d --listen-client-urls http://[::1]:2379 --advertise-client-urls http://[::1]:2379 " +
				"--listen-peer-urls http://[::1]:2380 --initial-advertise-peer-urls http://[::1]:2380 " +
				"--initial-cluster n1=http://[::1]:2380 --logger zap --log-level warn"},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.got, " "); got != tt.want {
			t.Errorf("%s args:\n%s\nwant\n%s", tt.desc, got, tt.want)
		}
	}
}
