package peer

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	keyOld = []byte("old-key-0123456789abcdef0123456789abcdef")
	keyNew = []byte("new-key-0123456789abcdef0123456789abcdef")
)

// freePort reserves a loopback UDP port and releases it for the node.
func freePort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// pair starts two nodes a and b on loopback; b answers every
// PromiseRequest with a grant of the asked duration.
func pair(t *testing.T, regA, regB prometheus.Registerer) (a, b *Node) {
	t.Helper()
	addrA, addrB := freePort(t), freePort(t)
	grant := func(from string, m Message) *Message {
		if m.Kind == PromiseRequest {
			return &Message{Kind: PromiseGrant, Term: m.Term, Until: m.Until}
		}
		return nil
	}
	var err error
	a, err = New(Config{Group: "g", Self: "a", Listen: addrA, Peers: map[string]string{"b": addrB}, Keys: [][]byte{keyOld}}, nil, nil, regA)
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(Config{Group: "g", Self: "b", Listen: addrB, Peers: map[string]string{"a": addrA}, Keys: [][]byte{keyOld}}, grant, nil, regB)
	if err != nil {
		t.Fatal(err)
	}
	start(t, a)
	start(t, b)
	return a, b
}

// start runs n until the test ends and waits until it is bound.
func start(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for i := 0; n.LocalAddr() == nil; i++ {
		if i > 500 {
			t.Fatal("node did not bind")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRequestReply(t *testing.T) {
	regA := prometheus.NewRegistry()
	a, _ := pair(t, regA, nil)
	if got := metric(t, regA, "lbhc_peer_up", "peer", "b"); got != 0 {
		t.Fatalf("lbhc_peer_up before any message = %v, want 0", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := a.Request(ctx, "b", Message{Kind: PromiseRequest, Term: 7, Until: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != PromiseGrant || r.Term != 7 || r.Until != 3*time.Second || r.ReqID == 0 {
		t.Fatalf("reply %+v", r)
	}
	ps := a.Peers()
	if len(ps) != 1 || ps[0].ID != "b" || !ps[0].Up || !ps[0].Seen || ps[0].Last.Kind != PromiseGrant {
		t.Fatalf("Peers() = %+v", ps)
	}
	if got := metric(t, regA, "lbhc_peer_up", "peer", "b"); got != 1 {
		t.Fatalf("lbhc_peer_up after a reply = %v, want 1", got)
	}
}

func TestRunBindError(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := New(Config{Group: "g", Self: "a", Listen: c.LocalAddr().String(), Peers: map[string]string{"b": "127.0.0.1:9"}, Keys: [][]byte{keyOld}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Run(ctx); err == nil || !strings.Contains(err.Error(), "--peer-listen") || ctx.Err() != nil {
		t.Fatalf("Run on a taken port: %v, want an error at once naming --peer-listen", err)
	}
	if err := n.Send("b", Message{Kind: Status}); err != ErrNotRunning {
		t.Fatalf("Send without Run: %v", err)
	}
}

// metric is the value of the series name{label=value} in reg (-1 when
// absent).
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// src0 is a source address for refusal logs in socket-less tests.
var src0 = netip.MustParseAddrPort("127.0.0.1:9")

// TestOversizeOnTheWire: a datagram longer than MaxDatagram, which the
// fixed receive buffer (MaxDatagram+1 bytes) truncates, is counted as
// oversize, not as malformed and not accepted.
func TestOversizeOnTheWire(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, b := pair(t, nil, reg)
	c, err := net.DialUDP("udp", nil, b.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A valid message padded past the limit.
	d := append(datagram(t, keyOld, fromA(time.Now()), status), make([]byte, MaxDatagram)...)
	if _, err := c.Write(d); err != nil {
		t.Fatal(err)
	}
	for i := 0; metric(t, reg, "lbhc_peer_messages_refused_total", "reason", "oversize") != 1; i++ {
		if i > 500 {
			t.Fatalf("oversize count %v, want 1", metric(t, reg, "lbhc_peer_messages_refused_total", "reason", "oversize"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v := metric(t, reg, "lbhc_peer_messages_total", "kind", "status"); v != 0 {
		t.Fatalf("the oversize datagram was accepted (%v)", v)
	}
}
