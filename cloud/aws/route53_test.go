package aws

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/cloudtest"
)

const r53Zone = "Z0LBHCTEST"

func newR53Fixture(t *testing.T) *cloudtest.Route53 {
	t.Helper()
	f := cloudtest.NewRoute53()
	t.Cleanup(f.Close)
	f.AddZone(r53Zone, "example.com")
	return f
}

func newR53Action(t *testing.T, f *cloudtest.Route53, addr string, m *cloud.Metrics) *Route53 {
	t.Helper()
	return NewRoute53(Route53Config{
		ZoneID:        "/hostedzone/" + r53Zone,
		Record:        "db.example.com",
		Address:       netip.MustParseAddr(addr),
		TTL:           10 * time.Second,
		Retry:         awsTestRetry,
		SyncInterval:  5 * time.Millisecond,
		SyncTries:     5,
		CheckInterval: 5 * time.Millisecond,
		CheckTries:    4,
	}, NewAWSRoute53Client(awsTestConfig(f.URL())), awsTestLog(t), m)
}

func r53Value(t *testing.T, f *cloudtest.Route53, typ string) string {
	t.Helper()
	r, ok := f.Record(r53Zone, "db.example.com", typ)
	if !ok {
		t.Fatalf("record db.example.com %s absent", typ)
	}
	return strings.Join(r.Values, ",")
}

func TestRoute53PromoteWritesWaitsAndVerifies(t *testing.T) {
	f := newR53Fixture(t)
	f.SetPendingPolls(2)
	m, _ := awsMetrics()
	a := newR53Action(t, f, "10.0.1.10", m)
	if err := a.Promote(context.Background(), awsValidEvent("a", 7)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	r, _ := f.Record(r53Zone, "db.example.com", "A")
	if !slices.Equal(r.Values, []string{"10.0.1.10"}) || r.TTL != 10 {
		t.Fatalf("record = %+v, want 10.0.1.10 ttl 10", r)
	}
	if w := f.Writes(); len(w) != 1 || w[0] != "UPSERT db.example.com. A 10 10.0.1.10" {
		t.Fatalf("writes = %q", w)
	}
	// PENDING twice, then INSYNC.
	if n := f.Faults.Calls("GetChange"); n != 3 {
		t.Fatalf("GetChange calls = %d, want 3", n)
	}
	if st := a.Status(); st.State != "ok" || st.LastVerified.IsZero() || st.Name != "route53" {
		t.Fatalf("status = %+v", st)
	}
	if v := awsCounter(t, m, "verified", "route53"); v != 1 {
		t.Fatalf("verified gauge = %v", v)
	}
}

func TestRoute53AAAA(t *testing.T) {
	f := newR53Fixture(t)
	a := newR53Action(t, f, "2001:db8::10", nil)
	if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if v := r53Value(t, f, "AAAA"); v != "2001:db8::10" {
		t.Fatalf("AAAA = %q", v)
	}
}

func TestRoute53SkipsWhenAlreadyRight(t *testing.T) {
	f := newR53Fixture(t)
	f.SetRecord(r53Zone, cloudtest.R53Record{Name: "DB.example.com.", Type: "A", TTL: 10, Values: []string{"10.0.1.10"}})
	a := newR53Action(t, f, "10.0.1.10", nil)
	if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Fatalf("writes = %q, want none", w)
	}
	if n := f.Faults.Calls("GetChange"); n != 0 {
		t.Fatalf("GetChange calls = %d, want 0", n)
	}
}

func TestRoute53RewritesWrongTTLAndExtraValues(t *testing.T) {
	for name, rec := range map[string]cloudtest.R53Record{
		"ttl":   {Name: "db.example.com", Type: "A", TTL: 300, Values: []string{"10.0.1.10"}},
		"extra": {Name: "db.example.com", Type: "A", TTL: 10, Values: []string{"10.0.1.10", "10.0.2.10"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newR53Fixture(t)
			f.SetRecord(r53Zone, rec)
			a := newR53Action(t, f, "10.0.1.10", nil)
			if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
				t.Fatalf("Promote: %v", err)
			}
			if r, _ := f.Record(r53Zone, "db.example.com", "A"); r.TTL != 10 || !slices.Equal(r.Values, []string{"10.0.1.10"}) {
				t.Fatalf("record = %+v", r)
			}
		})
	}
}

func TestRoute53MonitorRepairs(t *testing.T) {
	f := newR53Fixture(t)
	m, _ := awsMetrics()
	a := newR53Action(t, f, "10.0.1.10", m)
	ev := awsValidEvent("a", 3)
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	repaired, err := a.Monitor(context.Background(), ev)
	if err != nil || repaired {
		t.Fatalf("Monitor on correct record = %v, %v; want false, nil", repaired, err)
	}
	f.SetRecord(r53Zone, cloudtest.R53Record{Name: "db.example.com", Type: "A", TTL: 10, Values: []string{"10.0.9.9"}})
	repaired, err = a.Monitor(context.Background(), ev)
	if err != nil || !repaired {
		t.Fatalf("Monitor after drift = %v, %v; want true, nil", repaired, err)
	}
	if v := r53Value(t, f, "A"); v != "10.0.1.10" {
		t.Fatalf("record = %q after repair", v)
	}
	if st := a.Status(); st.State != "repaired" {
		t.Fatalf("state = %q, want repaired", st.State)
	}
	if n := awsCounter(t, m, "repairs", "route53"); n != 1 {
		t.Fatalf("repairs = %v, want 1", n)
	}
}

func TestRoute53InsyncPolling(t *testing.T) {
	t.Run("insync within tries", func(t *testing.T) {
		f := newR53Fixture(t)
		f.SetPendingPolls(4)
		a := newR53Action(t, f, "10.0.1.10", nil)
		if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if n := f.Faults.Calls("GetChange"); n != 5 {
			t.Fatalf("GetChange calls = %d, want 5", n)
		}
	})
	t.Run("still pending", func(t *testing.T) {
		f := newR53Fixture(t)
		f.SetPendingPolls(100)
		m, _ := awsMetrics()
		a := newR53Action(t, f, "10.0.1.10", m)
		err := a.Promote(context.Background(), awsValidEvent("a", 1))
		if err == nil || !strings.Contains(err.Error(), "still PENDING after 5 status checks 5ms apart") {
			t.Fatalf("err = %v", err)
		}
		if n := f.Faults.Calls("GetChange"); n != 5 {
			t.Fatalf("GetChange calls = %d, want 5", n)
		}
		if st := a.Status(); st.State != "failed" || st.LastError == "" {
			t.Fatalf("status = %+v", st)
		}
		if n := awsCounter(t, m, "failures", "route53"); n != 1 {
			t.Fatalf("failures = %v", n)
		}
	})
}

func TestRoute53RetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    string
		fault cloudtest.AWSFault
	}{
		{"throttling", "ChangeResourceRecordSets", cloudtest.AWSFault{Status: 400, Code: "Throttling", Message: "Rate exceeded"}},
		{"prior request", "ChangeResourceRecordSets", cloudtest.AWSFault{Status: 400, Code: "PriorRequestNotComplete", Message: "The request was rejected because Route 53 was still processing a prior request."}},
		{"503 on list", "ListResourceRecordSets", cloudtest.AWSFault{Status: 503, Code: "ServiceUnavailable", Message: "try later"}},
		{"500 without code on getchange", "GetChange", cloudtest.AWSFault{Status: 500, Code: "X", Message: "boom"}},
		{"dropped connection", "ChangeResourceRecordSets", cloudtest.AWSFault{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newR53Fixture(t)
			f.Faults.FailNext(tc.op, 2, tc.fault)
			a := newR53Action(t, f, "10.0.1.10", nil)
			if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
				t.Fatalf("Promote: %v", err)
			}
			if v := r53Value(t, f, "A"); v != "10.0.1.10" {
				t.Fatalf("record = %q", v)
			}
		})
	}
	t.Run("gives up after tries", func(t *testing.T) {
		f := newR53Fixture(t)
		f.Faults.FailNext("ChangeResourceRecordSets", 3, cloudtest.AWSFault{Status: 400, Code: "Throttling", Message: "Rate exceeded"})
		a := newR53Action(t, f, "10.0.1.10", nil)
		err := a.Promote(context.Background(), awsValidEvent("a", 1))
		if err == nil || awsErrCode(err) != "Throttling" {
			t.Fatalf("err = %v, want Throttling", err)
		}
		if n := f.Faults.Calls("ChangeResourceRecordSets"); n != 3 {
			t.Fatalf("calls = %d, want 3", n)
		}
	})
	t.Run("not retried: InvalidChangeBatch", func(t *testing.T) {
		f := newR53Fixture(t)
		f.SetRecord(r53Zone, cloudtest.R53Record{Name: "db.example.com", Type: "CNAME", TTL: 60, Values: []string{"other.example.com"}})
		a := newR53Action(t, f, "10.0.1.10", nil)
		err := a.Promote(context.Background(), awsValidEvent("a", 1))
		if err == nil || awsErrCode(err) != "InvalidChangeBatch" {
			t.Fatalf("err = %v, want InvalidChangeBatch", err)
		}
		if n := f.Faults.Calls("ChangeResourceRecordSets"); n != 1 {
			t.Fatalf("calls = %d, want 1", n)
		}
	})
}

func TestRoute53SlowResponseRetried(t *testing.T) {
	f := newR53Fixture(t)
	f.Faults.DelayNext("ListResourceRecordSets", 1, 2*time.Second)
	a := newR53Action(t, f, "10.0.1.10", nil)
	a.cfg.Retry.AttemptTimeout = 200 * time.Millisecond
	start := time.Now()
	if err := a.Promote(context.Background(), awsValidEvent("a", 1)); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("promote took %v: the slow call was not abandoned", d)
	}
	if n := f.Faults.Calls("ListResourceRecordSets"); n < 2 {
		t.Fatalf("List calls = %d, want a retry", n)
	}
}

func TestRoute53DeadlinePassedNoWrite(t *testing.T) {
	t.Run("invalid before start", func(t *testing.T) {
		f := newR53Fixture(t)
		m, _ := awsMetrics()
		a := newR53Action(t, f, "10.0.1.10", m)
		ev := awsValidEvent("a", 4)
		ev.Valid = func() bool { return false }
		err := a.Promote(context.Background(), ev)
		if !errors.Is(err, cloud.ErrNotLeader) {
			t.Fatalf("err = %v, want ErrNotLeader", err)
		}
		if n := f.Faults.Calls("ChangeResourceRecordSets"); n != 0 {
			t.Fatalf("ChangeResourceRecordSets calls = %d, want 0", n)
		}
		if n := awsCounter(t, m, "failures", "route53"); n != 0 {
			t.Fatalf("ErrNotLeader counted as failure: %v", n)
		}
	})
	t.Run("expires between retries", func(t *testing.T) {
		f := newR53Fixture(t)
		f.Faults.FailNext("ChangeResourceRecordSets", 1, cloudtest.AWSFault{Status: 400, Code: "Throttling", Message: "Rate exceeded"})
		a := newR53Action(t, f, "10.0.1.10", nil)
		var mu sync.Mutex
		asked := 0
		ev := awsValidEvent("a", 4)
		ev.Valid = func() bool { mu.Lock(); defer mu.Unlock(); asked++; return asked <= 2 } // the pre-check and the first attempt
		err := a.Promote(context.Background(), ev)
		if !errors.Is(err, cloud.ErrNotLeader) {
			t.Fatalf("err = %v, want ErrNotLeader", err)
		}
		if n := f.Faults.Calls("ChangeResourceRecordSets"); n != 1 {
			t.Fatalf("ChangeResourceRecordSets calls = %d, want 1 (no retry after the deadline)", n)
		}
		if _, ok := f.Record(r53Zone, "db.example.com", "A"); ok {
			t.Fatal("record written after the deadline")
		}
	})
	t.Run("nil Valid", func(t *testing.T) {
		f := newR53Fixture(t)
		a := newR53Action(t, f, "10.0.1.10", nil)
		if err := a.Promote(context.Background(), cloud.Event{Term: 1}); !errors.Is(err, cloud.ErrNotLeader) {
			t.Fatalf("err = %v, want ErrNotLeader", err)
		}
	})
}

// Two nodes: a leads (term 1), its deadline passes, b takes over (term 2).
// a keeps running its monitor loop the whole time; b promotes and monitors.
// The record must end at b's address and a must never write after its
// deadline.
func TestRoute53TwoAgentsRacing(t *testing.T) {
	f := newR53Fixture(t)
	var lease awsLeader
	a := newR53Action(t, f, "10.0.1.10", nil)
	b := newR53Action(t, f, "10.0.2.10", nil)
	lease.set("a")
	evA, evB := lease.event("a", 1), lease.event("b", 2)
	if err := a.Promote(context.Background(), evA); err != nil {
		t.Fatalf("a Promote: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a's monitor loop, unaware that it lost the lease
		defer wg.Done()
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a.Monitor(ctx, evA)
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	lease.set("") // a's deadline passes ...
	time.Sleep(20 * time.Millisecond)
	lease.set("b") // ... then b's grant
	if err := b.Promote(ctx, evB); err != nil {
		t.Fatalf("b Promote: %v", err)
	}
	for range 3 {
		if _, err := b.Monitor(ctx, evB); err != nil {
			t.Fatalf("b Monitor: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if v := r53Value(t, f, "A"); v != "10.0.2.10" {
		t.Fatalf("record = %q, want the current leader's 10.0.2.10", v)
	}
	aWrites := 0
	for _, w := range f.Writes() {
		if strings.HasSuffix(w, " 10.0.1.10") {
			aWrites++
		}
	}
	if aWrites != 1 {
		t.Fatalf("a wrote %d times, want only its own promotion: %q", aWrites, f.Writes())
	}
}

func TestNormalizeDNSName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"db.example.com", "db.example.com"},
		{"DB.Example.COM.", "db.example.com"},
		{`\052.example.com.`, "*.example.com"},
		{`a\\b.example.com`, `a\\b.example.com`},
		{`x\05`, `x\05`},
	} {
		if got := normalizeDNSName(tc.in); got != tc.want {
			t.Errorf("normalizeDNSName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRoute53WildcardRecord(t *testing.T) {
	f := newR53Fixture(t)
	a := newR53Action(t, f, "10.0.1.10", nil)
	a.cfg.Record = "*.example.com"
	ev := awsValidEvent("a", 1)
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	// The fake lists "*" as \052, so a second pass only matches if the
	// name is decoded.
	if err := a.Promote(context.Background(), ev); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if w := f.Writes(); len(w) != 1 {
		t.Fatalf("writes = %q, want exactly one", w)
	}
}
