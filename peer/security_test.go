package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// t0 is the tests' wall clock.
var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

// clock is a settable wall clock for a node under test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// receiver is node b of group g, knowing peer a (and c), with keys,
// reading the test clock; no socket.
func receiver(t *testing.T, keys ...[]byte) (*Node, *prometheus.Registry, *clock) {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := New(Config{Group: "g", Self: "b", Listen: "127.0.0.1:0",
		Peers: map[string]string{"a": "127.0.0.1:1", "c": "127.0.0.1:2"}, Keys: keys}, nil, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	n.now = clk.now
	return n, reg, clk
}

// datagram is what node env.from sends with key.
func datagram(t testing.TB, key []byte, e envelope, m Message) []byte {
	t.Helper()
	b, err := encode(make([]byte, MaxDatagram), hmac.New(sha256.New, key), e, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fromA is a message from a to b in group g sent at time at.
func fromA(at time.Time) envelope {
	return envelope{group: "g", from: "a", to: "b", seq: uint64(at.UnixNano())}
}

var status = Message{Kind: Status, Term: 3, Role: "leader"}

// refused is the refusal counter for r.
func refused(t *testing.T, reg *prometheus.Registry, r string) float64 {
	t.Helper()
	return metric(t, reg, "lbhc_peer_messages_refused_total", "reason", r)
}

// want asserts that n's verdict on b is r, and that the refusal counter of
// r went up by one (accepted: nothing counted).
func want(t *testing.T, n *Node, reg *prometheus.Registry, b []byte, r reason, what string) {
	t.Helper()
	before := map[reason]float64{}
	for x := reasonMalformed; x < reasonEnd; x++ {
		before[x] = refused(t, reg, x.String())
	}
	p, m, got := n.accept(b)
	if got != accepted {
		n.refuse(got, src0)
	}
	if got != r {
		t.Fatalf("%s: verdict %q, want %q", what, got, r)
	}
	if r == accepted && (p == nil || m.Kind == 0) {
		t.Fatalf("%s: accepted without sender or content: %v %+v", what, p, m)
	}
	for x := reasonMalformed; x < reasonEnd; x++ {
		d := refused(t, reg, x.String()) - before[x]
		if (x == r && d != 1) || (x != r && d != 0) {
			t.Fatalf("%s: lbhc_peer_messages_refused_total{reason=%q} rose by %v", what, x, d)
		}
	}
}

func TestAuthenticatedAccepted(t *testing.T) {
	n, reg, _ := receiver(t, keyOld)
	want(t, n, reg, datagram(t, keyOld, fromA(t0), status), accepted, "valid")
	if ps := n.Peers(); !ps[0].Seen || ps[0].LastStatus.Term != 3 || ps[0].LastStatus.Role != "leader" {
		t.Fatalf("Peers after a Status: %+v", ps[0])
	}
}

// TestForgedAnyByte: flipping any bit pattern in any single byte of a
// valid datagram makes it refused (layout or MAC), never accepted.
func TestForgedAnyByte(t *testing.T) {
	n, reg, _ := receiver(t, keyOld)
	good := datagram(t, keyOld, fromA(t0), Message{Kind: Handover, ReqID: 9, Term: 4, Role: "leader", Until: time.Second, Target: "b"})
	for i := range good {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), good...)
			b[i] ^= x
			_, _, r := n.accept(b)
			if r != reasonMalformed && r != reasonBadMAC {
				t.Fatalf("byte %d ^ %#x: verdict %q, want malformed or bad_mac", i, x, r)
			}
		}
	}
	// The unchanged datagram is still fresh: nothing above moved the
	// sender's sequence.
	want(t, n, reg, good, accepted, "original after forgeries")
	want(t, n, reg, datagram(t, []byte("attacker-key-0123456789abcdef0123456789"), fromA(t0.Add(time.Millisecond)), status), reasonBadMAC, "other key")
}

func TestTruncated(t *testing.T) {
	n, reg, _ := receiver(t, keyOld)
	good := datagram(t, keyOld, fromA(t0), Message{Kind: Status, Role: "follower", Target: "x"})
	for k := 0; k < len(good); k++ {
		want(t, n, reg, good[:k], reasonMalformed, "truncated")
	}
	want(t, n, reg, append(append([]byte(nil), good...), 0), reasonMalformed, "trailing byte")
}

func TestOversize(t *testing.T) {
	n, reg, _ := receiver(t, keyOld)
	want(t, n, reg, make([]byte, MaxDatagram+1), reasonOversize, "513 bytes")
}

func TestReplayed(t *testing.T) {
	n, reg, _ := receiver(t, keyOld)
	b := datagram(t, keyOld, fromA(t0), status)
	want(t, n, reg, b, accepted, "first")
	want(t, n, reg, b, reasonReplayed, "same datagram again")
	want(t, n, reg, datagram(t, keyOld, fromA(t0.Add(time.Second)), status), accepted, "later")
	want(t, n, reg, datagram(t, keyOld, fromA(t0.Add(time.Millisecond)), status), reasonReplayed, "older sequence")
	// Per sender: c's sequence is its own.
	want(t, n, reg, datagram(t, keyOld, envelope{group: "g", from: "c", to: "b", seq: uint64(t0.UnixNano())}, status), accepted, "another sender, older time")
}

func TestStale(t *testing.T) {
	n, reg, clk := receiver(t, keyOld)
	skew := n.MaxSkew()
	want(t, n, reg, datagram(t, keyOld, fromA(t0.Add(skew+time.Millisecond)), status), reasonStale, "from the future")
	want(t, n, reg, datagram(t, keyOld, fromA(t0.Add(-skew-time.Millisecond)), status), reasonStale, "from the past")
	want(t, n, reg, datagram(t, keyOld, fromA(t0.Add(-skew+time.Millisecond)), status), accepted, "just within the skew")
	// A datagram held back beyond the skew is refused when it arrives.
	late := datagram(t, keyOld, fromA(t0.Add(time.Second)), status)
	clk.t = t0.Add(time.Second + skew + time.Nanosecond)
	want(t, n, reg, late, reasonStale, "delivered late")
}

func TestWrongGroupRecipientSender(t *testing.T) {
	n, reg, _ := receiver(t, keyOld)
	seq := uint64(t0.UnixNano())
	want(t, n, reg, datagram(t, keyOld, envelope{group: "h", from: "a", to: "b", seq: seq}, status), reasonWrongGroup, "group h")
	want(t, n, reg, datagram(t, keyOld, envelope{group: "g", from: "a", to: "c", seq: seq}, status), reasonWrongRecipient, "addressed to c")
	want(t, n, reg, datagram(t, keyOld, envelope{group: "g", from: "z", to: "b", seq: seq}, status), reasonUnknownSender, "from z")
	want(t, n, reg, datagram(t, keyOld, envelope{group: "g", from: "b", to: "b", seq: seq}, status), reasonUnknownSender, "from itself")
	// None of these moved a's sequence.
	want(t, n, reg, datagram(t, keyOld, fromA(t0), status), accepted, "a afterwards")
}

// TestKeyRotation: during a rotation a node holding [new, old] accepts
// both; a node still holding only [old] refuses the new key's messages.
func TestKeyRotation(t *testing.T) {
	both, regBoth, _ := receiver(t, keyNew, keyOld)
	want(t, both, regBoth, datagram(t, keyOld, fromA(t0), status), accepted, "[new old] <- old")
	want(t, both, regBoth, datagram(t, keyNew, fromA(t0.Add(time.Millisecond)), status), accepted, "[new old] <- new")
	old, regOld, _ := receiver(t, keyOld)
	want(t, old, regOld, datagram(t, keyNew, fromA(t0), status), reasonBadMAC, "[old] <- new")
	want(t, old, regOld, datagram(t, keyOld, fromA(t0), status), accepted, "[old] <- old")
	// The first key signs.
	if !hmac.Equal(both.sign.Sum(nil), hmac.New(sha256.New, keyNew).Sum(nil)) {
		t.Fatal("a node with [new, old] does not sign with new")
	}
}

// TestUpAfterHeartbeats: lbhc_peer_up is 0 before any message, 1 after an
// authenticated one, 0 again after 3 heartbeat intervals of silence.
func TestUpAfterHeartbeats(t *testing.T) {
	n, reg, clk := receiver(t, keyOld)
	up := func() float64 { return metric(t, reg, "lbhc_peer_up", "peer", "a") }
	if up() != 0 || metric(t, reg, "lbhc_peer_up", "peer", "c") != 0 {
		t.Fatal("lbhc_peer_up not 0 for every configured peer from start")
	}
	want(t, n, reg, datagram(t, keyOld, fromA(t0), status), accepted, "heartbeat")
	hb := n.Heartbeat()
	clk.t = t0.Add(3*hb - time.Millisecond)
	if up() != 1 || !n.Peers()[0].Up {
		t.Fatal("peer not up within 3 heartbeats")
	}
	if n.Peers()[0].LastSeen != 3*hb-time.Millisecond {
		t.Fatalf("LastSeen %s", n.Peers()[0].LastSeen)
	}
	clk.t = t0.Add(3 * hb)
	if up() != 0 || n.Peers()[0].Up {
		t.Fatal("peer still up after 3 silent heartbeats")
	}
	// A refused message does not count as a sign of life.
	want(t, n, reg, datagram(t, keyNew, fromA(clk.t), status), reasonBadMAC, "forged heartbeat")
	if up() != 0 {
		t.Fatal("a forged message brought the peer up")
	}
}
