package peer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	e := envelope{group: strings.Repeat("g", MaxGroupLen), from: strings.Repeat("a", MaxIDLen), to: strings.Repeat("b", MaxIDLen), seq: 1<<63 - 1}
	m := Message{Kind: Handover, ReqID: 1<<64 - 1, Term: 42, Role: strings.Repeat("r", maxRoleLen), Until: 1<<63 - 1, Target: strings.Repeat("t", MaxIDLen)}
	b := datagram(t, keyOld, e, m)
	if len(b) > MaxDatagram {
		t.Fatalf("largest message is %d bytes, over %d", len(b), MaxDatagram)
	}
	f, ok := parse(b)
	if !ok {
		t.Fatal("parse refused a valid datagram")
	}
	if string(f.group) != e.group || string(f.from) != e.from || string(f.to) != e.to || f.seq != e.seq {
		t.Fatalf("envelope %q %q %q %d", f.group, f.from, f.to, f.seq)
	}
	if got := f.message(); got != m {
		t.Fatalf("message %+v, want %+v", got, m)
	}
	if !newVerifier([][]byte{keyNew, keyOld}).verify(&f) || newVerifier([][]byte{keyNew}).verify(&f) {
		t.Fatal("verify does not match the signing key")
	}
	small := datagram(t, keyOld, envelope{group: "g", from: "a", to: "b"}, Message{Kind: Status})
	if len(small) != minDatagram {
		t.Fatalf("smallest message is %d bytes, minDatagram says %d", len(small), minDatagram)
	}
}

func TestEncodeRefuses(t *testing.T) {
	mac := hmac.New(sha256.New, keyOld)
	buf := make([]byte, MaxDatagram)
	ok := envelope{group: "g", from: "a", to: "b"}
	for _, tc := range []struct {
		e envelope
		m Message
	}{
		{envelope{from: "a", to: "b"}, Message{Kind: Status}},
		{envelope{group: "g", from: strings.Repeat("a", MaxIDLen+1), to: "b"}, Message{Kind: Status}},
		{envelope{group: "g", from: "a"}, Message{Kind: Status}},
		{ok, Message{}},
		{ok, Message{Kind: kindEnd}},
		{ok, Message{Kind: Status, Until: -time.Second}},
		{ok, Message{Kind: Status, Role: strings.Repeat("r", maxRoleLen+1)}},
		{ok, Message{Kind: Handover, Target: strings.Repeat("t", MaxIDLen+1)}},
	} {
		if _, err := encode(buf, mac, tc.e, tc.m); err == nil {
			t.Errorf("encode(%+v, %+v) succeeded", tc.e, tc.m)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, s := range map[Kind]string{0: "unknown", Status: "status", PromiseRequest: "promise_request",
		PromiseGrant: "promise_grant", PromiseRefuse: "promise_refuse", Handover: "handover", kindEnd: "unknown"} {
		if k.String() != s {
			t.Errorf("Kind(%d) = %q, want %q", k, k.String(), s)
		}
	}
}

// FuzzDecode: no input makes the receive path panic, and a datagram the
// layout check passes has exactly one encoding (re-encoding its fields
// gives the same bytes), so the MAC covers everything a receiver reads.
func FuzzDecode(f *testing.F) {
	f.Add(datagram(f, keyOld, fromA(t0), status))
	f.Add(datagram(f, keyOld, fromA(t0), Message{Kind: Handover, ReqID: 1, Term: 2, Role: "standby", Until: time.Second, Target: "c"}))
	f.Add(datagram(f, keyOld, envelope{group: "h", from: "z", to: "q", seq: 1}, Message{Kind: PromiseGrant}))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{1}, MaxDatagram+1))
	n, err := New(Config{Group: "g", Self: "b", Listen: ":0", Peers: map[string]string{"a": "127.0.0.1:1"}, Keys: [][]byte{keyOld}}, nil, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	n.now = func() time.Time { return t0 }
	mac := hmac.New(sha256.New, keyOld)
	buf := make([]byte, MaxDatagram)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, r := n.accept(b)
		if r >= reasonEnd {
			t.Fatalf("verdict %d out of range", r)
		}
		fr, ok := parse(b)
		if !ok {
			return
		}
		re, err := encode(buf, mac, envelope{group: string(fr.group), from: string(fr.from), to: string(fr.to), seq: fr.seq}, fr.message())
		if err != nil {
			t.Fatalf("parse accepted fields encode refuses: %v", err)
		}
		if !bytes.Equal(re[:len(re)-macLen], fr.body) || len(fr.mac) != macLen {
			t.Fatalf("re-encoding differs:\n%x\n%x", re[:len(re)-macLen], fr.body)
		}
	})
}
