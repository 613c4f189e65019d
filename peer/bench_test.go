package peer

import (
	"crypto/rand"
	"testing"
	"time"
)

// BenchmarkRefuse is the receive loop's cost per junk datagram (parse,
// MAC with two keys as during a rotation, count, rate-limited log), for
// the three kinds a flood can send. BENCHMARKS.md records the figures.
func BenchmarkRefuse(b *testing.B) {
	n, err := New(Config{Group: "g", Self: "b", Listen: ":0", Peers: map[string]string{"a": "127.0.0.1:1"}, Keys: [][]byte{keyNew, keyOld}}, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	n.now = func() time.Time { return t0 }
	random := make([]byte, 300)
	rand.Read(random)
	forged := datagram(b, []byte("forger-key-0123456789abcdef0123456789ab"), fromA(t0), Message{Kind: PromiseRequest, Until: time.Hour, Role: "leader"})
	replay := datagram(b, keyOld, fromA(t0), status)
	if _, _, r := n.accept(replay); r != accepted {
		b.Fatal(r)
	}
	for _, tc := range []struct {
		name string
		d    []byte
		want reason
	}{
		{"random", random, reasonMalformed},
		{"bad_mac", forged, reasonBadMAC},
		{"replayed", replay, reasonReplayed},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, r := n.accept(tc.d)
				if r != tc.want {
					b.Fatal(r)
				}
				n.refuse(r, src0)
			}
		})
	}
}
