package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeIPHelper is an in-memory iphlpapi.dll for the Windows platform's
// decision code: a unicast address table keyed by (address, interface)
// that behaves as IP Helper documents it — InitializeUnicastIpAddressEntry
// sets defaults, Create refuses a duplicate with ERROR_OBJECT_ALREADY_EXISTS
// and an unknown interface with ERROR_NOT_FOUND, Delete of an absent row
// returns ERROR_NOT_FOUND. missing lists procedures the DLL lacks (as Wine
// 8 lacks the *UnicastIpAddressEntry functions); calling one returns the
// error x/sys's LazyProc.Find gives.
type fakeIPHelper struct {
	mu        sync.Mutex
	ifs       []link
	rows      []mibUnicastIPAddressRow
	missing   []string
	createErr error // returned by Create instead of acting
	elevated  bool
	calls     []string
}

// Values InitializeUnicastIpAddressEntry sets (netioapi.h documentation).
const (
	winPrefixOriginUnchanged = 16
	winSuffixOriginUnchanged = 16
)

func errProcMissing(name string) error {
	return fmt.Errorf("Failed to find %s procedure in iphlpapi.dll: %w", name, syscall.Errno(127))
}

func (f *fakeIPHelper) proc(name string) error {
	f.calls = append(f.calls, name)
	if slices.Contains(f.missing, name) {
		return errProcMissing(name)
	}
	return nil
}

func (f *fakeIPHelper) table() ipHelper {
	return ipHelper{
		find: func(name string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if slices.Contains(f.missing, name) {
				return errProcMissing(name)
			}
			return nil
		},
		interfaces: func() ([]link, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.proc("GetIfTable2Ex"); err != nil {
				return nil, err
			}
			return slices.Clone(f.ifs), nil
		},
		unicastRows: func() ([]mibUnicastIPAddressRow, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.proc("GetUnicastIpAddressTable"); err != nil {
				return nil, err
			}
			return slices.Clone(f.rows), nil
		},
		initializeUnicastRow: func(r *mibUnicastIPAddressRow) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.proc("InitializeUnicastIpAddressEntry"); err != nil {
				return err
			}
			*r = mibUnicastIPAddressRow{PrefixOrigin: winPrefixOriginUnchanged, SuffixOrigin: winSuffixOriginUnchanged,
				ValidLifetime: winInfiniteLifetime, PreferredLifetime: winInfiniteLifetime, OnLinkPrefixLength: 0xff}
			return nil
		},
		createUnicastRow: func(r *mibUnicastIPAddressRow) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.proc("CreateUnicastIpAddressEntry"); err != nil {
				return err
			}
			if f.createErr != nil {
				return f.createErr
			}
			if !slices.ContainsFunc(f.ifs, func(l link) bool { return l.LUID == r.InterfaceLuid }) {
				return errorNotFound
			}
			if f.index(r) >= 0 {
				return errorObjectAlreadyExists
			}
			f.rows = append(f.rows, *r)
			return nil
		},
		deleteUnicastRow: func(r *mibUnicastIPAddressRow) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.proc("DeleteUnicastIpAddressEntry"); err != nil {
				return err
			}
			i := f.index(r)
			if i < 0 {
				return errorNotFound
			}
			f.rows = slices.Delete(f.rows, i, i+1)
			return nil
		},
		elevated: func() bool { return f.elevated },
	}
}

// index returns the index of the row with r's address on r's interface
// (LUID, else index, as IP Helper matches), or -1.
func (f *fakeIPHelper) index(r *mibUnicastIPAddressRow) int {
	return slices.IndexFunc(f.rows, func(x mibUnicastIPAddressRow) bool {
		if x.Address != r.Address {
			return false
		}
		if r.InterfaceLuid != 0 {
			return x.InterfaceLuid == r.InterfaceLuid
		}
		return x.InterfaceIndex == r.InterfaceIndex
	})
}

func (f *fakeIPHelper) snapshot() []mibUnicastIPAddressRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rows)
}

var (
	winLoop   = link{Name: "Loopback Pseudo-Interface 1", Index: 1, LUID: 0x18000000000000}
	winEth    = link{Name: "Ethernet", Index: 7, LUID: 0x6008001000000}
	winHostIP = func() mibUnicastIPAddressRow {
		var r mibUnicastIPAddressRow
		fillUnicastRow(&r, netip.MustParsePrefix("10.0.0.4/24"), winEth.LUID, uint32(winEth.Index), true)
		r.SkipAsSource, r.ValidLifetime, r.PreferredLifetime = 0, winInfiniteLifetime, winInfiniteLifetime
		return r
	}()
)

func TestIPHelperCheck(t *testing.T) {
	f := &fakeIPHelper{}
	if err := f.table().check(); err != nil {
		t.Fatalf("check with every procedure: %v", err)
	}
	// Wine 8's iphlpapi.dll.
	f.missing = []string{"InitializeUnicastIpAddressEntry", "CreateUnicastIpAddressEntry", "DeleteUnicastIpAddressEntry"}
	err := f.table().check()
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Flag != "vip" || ce.ExitCode() != 2 {
		t.Fatalf("check without the address functions = %v, want a ConfigError for --vip", err)
	}
	for _, want := range append(f.missing, "--vip-mode", "--vip-interface") {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "GetIfTable2Ex") {
		t.Errorf("error %q names a procedure that is present", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("check called procedures: %v", f.calls)
	}
}

// newWinManager is a Manager on the Windows platform code over f.
func newWinManager(t *testing.T, cfg Config, f *fakeIPHelper, viaDAD bool) *Manager {
	t.Helper()
	cfg, err := cfg.validate(winLoop.Name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newManager(cfg, testLogger(t), prometheus.NewRegistry(), winPlatform{h: f.table(), viaDAD: viaDAD})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestWinPlatformLifecycle(t *testing.T) {
	ctx := context.Background()
	vip4 := netip.MustParsePrefix("10.0.0.5/32")
	vip6 := netip.MustParsePrefix("fd00::5/128")
	f := &fakeIPHelper{ifs: []link{winLoop, winEth}, rows: []mibUnicastIPAddressRow{winHostIP}, elevated: true}
	m := newWinManager(t, Config{Addrs: []netip.Prefix{vip4, vip6}, Interface: winEth.Name}, f, false)
	if err := m.Preflight(ctx); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	if err := m.Add(ctx); err != nil {
		t.Fatalf("Add: %v", err)
	}
	rows := f.snapshot()
	if len(rows) != 3 {
		t.Fatalf("after Add: %d rows, want 3", len(rows))
	}
	for _, r := range rows[1:] {
		p, _ := r.prefix()
		if !r.lbhcOwned() || r.InterfaceLuid != winEth.LUID || r.InterfaceIndex != uint32(winEth.Index) ||
			r.DadState != winDadStatePreferred || r.PrefixOrigin != winPrefixOriginManual || (p != vip4 && p != vip6) {
			t.Errorf("added row %+v (%s) is not an lbhc-marked preferred address on Ethernet", r, p)
		}
	}
	// Add again (a reconcile, or a second promotion): the rows exist,
	// Create says so, and that is success.
	if err := m.Add(ctx); err != nil {
		t.Fatalf("second Add: %v", err)
	}
	if len(f.snapshot()) != 3 {
		t.Fatalf("second Add changed the table: %d rows", len(f.snapshot()))
	}
	for _, s := range m.Status() {
		if !s.Present {
			t.Errorf("Status %+v: want present", s)
		}
	}
	if err := m.Remove(ctx); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if rows := f.snapshot(); len(rows) != 1 || rows[0] != winHostIP {
		t.Fatalf("after Remove: %+v, want only the host's own address", rows)
	}
}

func TestWinPlatformDAD(t *testing.T) {
	f := &fakeIPHelper{ifs: []link{winEth}, elevated: true}
	w := winPlatform{h: f.table(), viaDAD: true}
	if err := w.add(winEth, netip.MustParsePrefix("10.0.0.5/24")); err != nil {
		t.Fatal(err)
	}
	r := f.snapshot()[0]
	// Left to duplicate address detection (which announces it): not
	// forced to preferred, the initialised state is kept.
	if r.DadState != 0 || r.OnLinkPrefixLength != 24 || r.SkipAsSource != 1 {
		t.Errorf("row %+v: want DAD state left at 0, prefix length 24, SkipAsSource", r)
	}
}

func TestWinPlatformCleanupKeepsForeign(t *testing.T) {
	ctx := context.Background()
	vip := netip.MustParsePrefix("10.0.0.5/32")
	var stale, other mibUnicastIPAddressRow
	fillUnicastRow(&stale, vip, winLoop.LUID, uint32(winLoop.Index), true)
	fillUnicastRow(&other, netip.MustParsePrefix("10.0.0.6/32"), winLoop.LUID, uint32(winLoop.Index), true)
	f := &fakeIPHelper{ifs: []link{winLoop, winEth}, rows: []mibUnicastIPAddressRow{winHostIP, stale, other}, elevated: true}
	m := newWinManager(t, Config{Addrs: []netip.Prefix{vip}, Mode: ModeLoopback, Interface: winLoop.Name}, f, false)
	if err := m.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if rows := f.snapshot(); len(rows) != 2 || rows[0] != winHostIP || rows[1] != other {
		t.Fatalf("after Cleanup: %+v, want the host address and the other instance's VIP", rows)
	}
	// The row vanished between listing and deleting: ERROR_NOT_FOUND is
	// success, anything but an lbhc-marked row is refused.
	w := winPlatform{h: f.table()}
	if err := w.del(hostAddr{Prefix: vip, LinkIndex: winLoop.Index, Ours: true}); err != nil {
		t.Errorf("del of an absent row: %v", err)
	}
	if err := w.del(hostAddr{Prefix: netip.MustParsePrefix("10.0.0.4/24"), LinkIndex: winEth.Index}); err == nil {
		t.Errorf("del of the host's own address succeeded")
	}
}

func TestWinPlatformErrors(t *testing.T) {
	ctx := context.Background()
	vip := netip.MustParsePrefix("10.0.0.5/32")
	cfg := Config{Addrs: []netip.Prefix{vip}, Interface: winEth.Name}

	f := &fakeIPHelper{ifs: []link{winEth}}
	err := newWinManager(t, cfg, f, false).Preflight(ctx)
	if err == nil || !strings.Contains(err.Error(), "Administrator") {
		t.Errorf("Preflight without elevation = %v", err)
	}

	f = &fakeIPHelper{ifs: []link{winEth}, elevated: true, createErr: syscall.Errno(5)} // ERROR_ACCESS_DENIED
	err = newWinManager(t, cfg, f, false).Add(ctx)
	if !errors.Is(err, syscall.Errno(5)) || !strings.Contains(err.Error(), "CreateUnicastIpAddressEntry") {
		t.Errorf("Add with Create failing = %v, want the Errno wrapped with the procedure name", err)
	}

	// A procedure that disappeared after the start-up check (never in
	// practice; the check refuses such a system) is an error, not a panic.
	f = &fakeIPHelper{ifs: []link{winEth}, elevated: true, missing: []string{"InitializeUnicastIpAddressEntry"}}
	err = newWinManager(t, cfg, f, false).Add(ctx)
	if err == nil || !strings.Contains(err.Error(), "InitializeUnicastIpAddressEntry") {
		t.Errorf("Add without InitializeUnicastIpAddressEntry = %v", err)
	}
	if len(f.snapshot()) != 0 {
		t.Errorf("a failed Add left rows: %+v", f.snapshot())
	}
}
