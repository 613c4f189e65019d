package peer

import (
	"context"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestJunkFlood sends 10,000 junk datagrams (random bytes, well-formed
// messages with a bad MAC, replays of one valid message) at node b while a
// asks b for promises: every request gets its reply, the junk is refused
// and counted, and b's heap does not grow with the junk.
func TestJunkFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 10,000 datagrams on loopback; run without -short")
	}
	regB := prometheus.NewRegistry()
	a, b := pair(t, nil, regB)
	dst := b.LocalAddr().(*net.UDPAddr)
	junk, err := net.DialUDP("udp", nil, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()

	// Warm up both nodes (first request, first refusals, metric children)
	// before measuring the heap.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Request(ctx, "b", Message{Kind: PromiseRequest, Until: time.Second}); err != nil {
		t.Fatal(err)
	}
	replay := datagram(t, keyOld, fromA(time.Now()), status)
	forger := []byte("forger-key-0123456789abcdef0123456789ab")
	junk.Write(replay)
	before := heap()

	const requests = 100
	done := make(chan error, 1)
	go func() {
		for i := 0; i < requests; i++ {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			r, err := a.Request(rctx, "b", Message{Kind: PromiseRequest, Term: uint64(i), Until: time.Second})
			rcancel()
			if err == nil && (r.Kind != PromiseGrant || r.Term != uint64(i)) {
				err = errString("wrong reply")
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()

	rnd := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, MaxDatagram+100)
	const flood = 10000
	for i := 0; i < flood; i++ {
		var d []byte
		switch i % 3 {
		case 0:
			d = buf[:rnd.IntN(len(buf))]
			for j := range d {
				d[j] = byte(rnd.Uint32())
			}
		case 1:
			d = datagram(t, forger, fromA(time.Now()), Message{Kind: PromiseRequest, ReqID: uint64(i), Until: time.Hour})
		case 2:
			d = replay
		}
		if _, err := junk.Write(d); err != nil {
			t.Fatalf("junk datagram %d: %v", i, err)
		}
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // let the receive loop drain some; most still queue up
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("an authenticated request failed during the flood: %v", err)
	}
	// Let b drain what is queued before counting and weighing.
	time.Sleep(200 * time.Millisecond)
	after := heap()
	var total float64
	for _, r := range []string{"malformed", "oversize", "bad_mac", "replayed"} {
		v := refused(t, regB, r)
		if v <= 0 {
			t.Errorf("no %s refusal counted", r)
		}
		total += v
	}
	if total < flood/10 {
		t.Errorf("only %v of %d junk datagrams were refused and counted", total, flood)
	}
	if metric(t, regB, "lbhc_peer_messages_total", "kind", "promise_request") < requests {
		t.Error("requests not counted")
	}
	// Generous: the refusal path allocates nothing (see the benchmark);
	// the bound only catches state kept per datagram or per source.
	const bound = 1 << 20
	if after > before+bound {
		t.Fatalf("heap grew from %d to %d bytes during the flood (bound %d)", before, after, bound)
	}
	t.Logf("%v junk datagrams refused; heap %d -> %d bytes", total, before, after)
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
