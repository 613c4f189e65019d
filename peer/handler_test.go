package peer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSendReachesHandler: a fire-and-forget message arrives at the
// recipient's handler with the sender's id and content.
func TestSendReachesHandler(t *testing.T) {
	got := make(chan Message, 4)
	froms := make(chan string, 4)
	addrA, addrB := freePort(t), freePort(t)
	a, err := New(Config{Group: "g", Self: "a", Listen: addrA, Peers: map[string]string{"b": addrB}, Keys: [][]byte{keyNew, keyOld}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Group: "g", Self: "b", Listen: addrB, Peers: map[string]string{"a": addrA}, Keys: [][]byte{keyOld, keyNew}},
		func(from string, m Message) *Message { froms <- from; got <- m; return nil }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, a)
	start(t, b)
	want := Message{Kind: Handover, Term: 5, Role: "leader", Target: "b"}
	if err := a.Send("b", want); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if from := <-froms; from != "a" || m != want {
			t.Fatalf("handler got %q %+v, want a %+v", from, m, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handover never reached b's handler")
	}
	if err := a.Send("z", want); err == nil {
		t.Fatal("Send to an unconfigured peer succeeded")
	}
}

// TestRequestResendsUntilDeadline: a peer that does not answer gets the
// request again (same ReqID, new datagram) until the context ends, and
// Request returns the context's error.
func TestRequestResendsUntilDeadline(t *testing.T) {
	addrA, addrB := freePort(t), freePort(t)
	var mu sync.Mutex
	ids := map[uint64]int{}
	regB := prometheus.NewRegistry()
	a, err := New(Config{Group: "g", Self: "a", Listen: addrA, Peers: map[string]string{"b": addrB}, Keys: [][]byte{keyOld}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Group: "g", Self: "b", Listen: addrB, Peers: map[string]string{"a": addrA}, Keys: [][]byte{keyOld}},
		func(_ string, m Message) *Message { mu.Lock(); ids[m.ReqID]++; mu.Unlock(); return nil }, nil, regB)
	if err != nil {
		t.Fatal(err)
	}
	start(t, a)
	start(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	_, err = a.Request(ctx, "b", Message{Kind: PromiseRequest, Until: time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request to a silent peer: %v, want the deadline", err)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 1 {
		t.Fatalf("request ids seen by b: %v, want one id resent", ids)
	}
	for id, n := range ids {
		if id == 0 || n < 3 {
			t.Fatalf("b saw ReqID %d %d times, want at least 3 sends within the deadline", id, n)
		}
	}
	if _, err := a.Request(ctx, "z", Message{Kind: PromiseRequest}); err == nil {
		t.Fatal("Request to an unconfigured peer succeeded")
	}
}

// TestDeliverMatchesPeerAndReqID: only the asked peer's reply with the
// request's ReqID completes a Request; anything else goes to the handler.
func TestDeliverMatchesPeerAndReqID(t *testing.T) {
	n, _, _ := receiver(t, keyOld)
	w := &pending{peer: n.peers["a"], kind: PromiseRequest, ch: make(chan Message, 1)}
	n.pending[7] = w
	if n.deliver(n.peers["c"], Message{Kind: PromiseGrant, ReqID: 7}) {
		t.Fatal("a reply from c completed a request to a")
	}
	if n.deliver(n.peers["a"], Message{Kind: PromiseGrant, ReqID: 8}) {
		t.Fatal("a reply with another ReqID completed the request")
	}
	if n.deliver(n.peers["a"], Message{Kind: PromiseRequest, ReqID: 7}) {
		t.Fatal("a's own request with a colliding ReqID counted as the reply")
	}
	if !n.deliver(n.peers["a"], Message{Kind: PromiseGrant, ReqID: 7, Until: time.Second}) || (<-w.ch).Until != time.Second {
		t.Fatal("the matching reply was not delivered")
	}
	if !n.deliver(n.peers["a"], Message{Kind: PromiseGrant, ReqID: 7}) {
		t.Fatal("a duplicate reply went to the handler")
	}
}

// countHandler counts log records.
type countHandler struct{ n *int }

func (h countHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (h countHandler) Handle(context.Context, slog.Record) error { *h.n++; return nil }
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h countHandler) WithGroup(string) slog.Handler             { return h }

// TestRefusalLogLimited: a reason is logged at most once a minute,
// whatever the number of refusals; each reason separately.
func TestRefusalLogLimited(t *testing.T) {
	var lines int
	log := slog.New(countHandler{&lines})
	var l refusalLog
	for i := 0; i < 1000; i++ {
		l.refused(log, reasonBadMAC, src0, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if lines != 1 {
		t.Fatalf("1000 refusals in a second: %d log lines, want 1", lines)
	}
	l.refused(log, reasonReplayed, src0, t0.Add(time.Second))
	l.refused(log, reasonBadMAC, src0, t0.Add(logEvery-time.Millisecond))
	if lines != 2 {
		t.Fatalf("%d log lines, want 2 (one more reason)", lines)
	}
	l.refused(log, reasonBadMAC, src0, t0.Add(logEvery))
	if lines != 3 || l.suppressed[reasonBadMAC] != 0 {
		t.Fatalf("%d log lines after a minute, want 3", lines)
	}
}
