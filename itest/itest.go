// Package itest holds the helpers lbhc's integration tests share: skipping or
// failing when a prerequisite is missing, reading the servers that
// scripts/test.sh starts, and loopback ports. Only _test.go files import it.
//
// # Skip or fail
//
// A test that needs root, a server or a tool calls [Root], [Require] or [Env].
// Normally a missing prerequisite skips the test with a message saying how to
// run it. With LBHC_REQUIRE_INTEGRATION=1 (set by .ci/run) it fails the test
// instead, so nothing skips silently in CI.
//
// # Servers started by scripts/test.sh
//
// scripts/test.sh installs and starts, on free ports of 127.0.0.1 in the root
// network namespace, and exports:
//
//	LBHC_TEST_AZURITE_CONNECTION_STRING  Azurite blob service: account devstoreaccount1,
//	                                     its well-known key, BlobEndpoint=http://127.0.0.1:P/devstoreaccount1;
//	LBHC_TEST_DYNAMODB_ENDPOINT          dynalite, in memory: http://127.0.0.1:P. It accepts any
//	                                     credentials and region; sign with static ones
//	                                     (e.g. "test"/"test", region "us-east-1").
//	LBHC_TEST_GCS_ENDPOINT               fake-gcs-server (Cloud Storage JSON API), in memory:
//	                                     http://127.0.0.1:P. No credentials; no buckets at
//	                                     start (create one with POST /storage/v1/b).
//	LBHC_TEST_ETCD_ENDPOINTS             single-member etcd: http://127.0.0.1:P
//
// and the paths of programs tests run themselves:
//
//	LBHC_TEST_AZURITE_CMD   azurite-blob executable
//	LBHC_TEST_DYNALITE_CMD  dynalite executable
//	LBHC_TEST_FAKE_GCS_CMD  fake-gcs-server executable
//	LBHC_TEST_ETCD_BIN      etcd executable
//	LBHC_TEST_HAPROXY       haproxy
//	LBHC_TEST_KEEPALIVED    keepalived
//	LBHC_TEST_SOCAT         socat
//
// Run a single package against them with
//
//	scripts/test.sh go test -count=1 ./election/...
//
// # Own instances: outages and network namespaces
//
// The shared instances are for unit and conformance tests. A test that stops
// and restarts a server (an outage scenario) must run its own, so it does not
// disturb other packages' tests running at the same time. So must an
// end-to-end test whose nodes live in network namespaces: 127.0.0.1 of the
// root namespace is not reachable from inside one. Such a test gives the host
// side of its bridge an address (say 10.201.0.1/24 on bridge "e2ebr0"), and
// starts the server bound to that address with the *_CMD / *_BIN programs:
//
//	azurite-blob --blobHost ADDR --blobPort P --inMemoryPersistence --skipApiVersionCheck --disableTelemetry --silent
//	dynalite --host ADDR --port P
//	fake-gcs-server -scheme http -host ADDR -port P -backend memory -data DIR  (DIR/BUCKET/ = a bucket)
//	etcd --name N --data-dir $(t.TempDir()) \
//	     --listen-client-urls http://ADDR:P --advertise-client-urls http://ADDR:P \
//	     --listen-peer-urls http://ADDR:Q --initial-advertise-peer-urls http://ADDR:Q \
//	     --initial-cluster N=http://ADDR:Q
//
// [StartAzurite], [StartDynalite] and [StartEtcd] do this on a free port of
// the given address ([StartServer] runs any program); the returned [Server]
// stops, kills, pauses and restarts it on the same port, and is stopped when
// the test ends. [AzuriteArgs], [DynaliteArgs] and [EtcdArgs] build the
// arguments above. Wait for it with [WaitTCP]; a fresh port comes from [FreePort] (or
// [FreePortOn] for a bridge address).
package itest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// StrictEnv is the variable that turns skips into failures when it is "1".
const StrictEnv = "LBHC_REQUIRE_INTEGRATION"

// Strict reports whether a missing prerequisite must fail the test.
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// Require skips the test with reason — or, with LBHC_REQUIRE_INTEGRATION=1,
// fails it. reason should say what is missing and how to provide it, e.g.
// "etcd not running: run via scripts/test.sh".
func Require(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (%s=1: missing prerequisites fail)", reason, StrictEnv)
		return
	}
	t.Skip(reason)
}

// Root requires an effective user id of 0 (network namespaces, addresses,
// raw sockets). On Windows, where there is no euid, it always requires.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Require(t, "needs root (network namespaces): run as root, e.g. sudo scripts/test.sh")
	}
}

// Env returns the value of the environment variable name (one of the
// LBHC_TEST_* variables scripts/test.sh exports). When it is unset or empty
// the test skips, or fails under LBHC_REQUIRE_INTEGRATION=1.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Require(t, envReason(name))
	}
	return v
}

// envReason is the message for a missing LBHC_TEST_* variable.
func envReason(name string) string {
	return fmt.Sprintf("%s is not set: run this test via scripts/test.sh "+
		"(e.g. scripts/test.sh go test -count=1 ./yourpkg/), which starts the test servers", name)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// kernel picks it from the ephemeral range; another process may take it before
// the test binds it, so a test that starts a server on it should retry with a
// new port when the bind fails.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePortOn(t, "127.0.0.1")
}

// FreePortOn is FreePort for another local address, e.g. the host side of a
// test bridge.
func FreePortOn(t testing.TB, host string) int {
	t.Helper()
	p, err := freePort(host)
	if err != nil {
		t.Fatalf("itest: free port on %s: %v", host, err)
	}
	return p
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr ("host:port") accepts a TCP connection, polling
// every 50 ms, and fails the test when timeout passes first.
func WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	if err := waitTCP(addr, timeout, nil); err != nil {
		t.Fatalf("itest: %v", err)
	}
}

// pollInterval is the pause between connection attempts in waitTCP.
const pollInterval = 50 * time.Millisecond

// waitTCP dials addr until it answers or timeout passes. exited, when not nil,
// ends the wait early once it is closed (the server process died).
func waitTCP(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		c, err := net.DialTimeout("tcp", addr, min(left, time.Second))
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("%s: server exited before it accepted connections (last dial: %w)", addr, last)
		case <-time.After(min(pollInterval, max(time.Until(deadline), 0))):
		}
	}
	if last == nil {
		last = errors.New("no attempt made")
	}
	return fmt.Errorf("%s did not accept a TCP connection within %v: %w", addr, timeout, last)
}

// joinURL builds "http://host:port" with IPv6 literals bracketed.
func joinURL(host string, port int) string {
	return "http://" + net.JoinHostPort(host, fmt.Sprint(port))
}

// AzuriteConnectionString is the connection string for an Azurite blob
// service at host:port with the development account and its well-known key.
func AzuriteConnectionString(host string, port int) string {
	return strings.Join([]string{
		"DefaultEndpointsProtocol=http",
		"AccountName=" + azuriteAccount,
		"AccountKey=" + azuriteKey,
		"BlobEndpoint=" + joinURL(host, port) + "/" + azuriteAccount + ";",
	}, ";")
}

// Azurite's fixed development account and its published key.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
