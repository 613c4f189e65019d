package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// Removed is one address RemoveMarked deleted.
type Removed struct {
	Prefix    netip.Prefix
	Interface string
}

// RemoveMarked deletes the addresses that carry lbhc's mark, on every
// interface, and nothing else: what `lbhc cleanup` does after a crash (kill
// -9, OOM kill) left them behind. With only non-empty, just the marked
// addresses among only are removed (one instance's VIPs; other lbhc
// instances on the host keep theirs). Nothing marked: nothing to do.
func RemoveMarked(ctx context.Context, only []netip.Prefix, log *slog.Logger) ([]Removed, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sys, err := newPlatform(false, log)
	if err != nil {
		return nil, fmt.Errorf("vip: %w", err)
	}
	defer sys.close()
	return removeMarked(ctx, sys, only, log)
}

func removeMarked(ctx context.Context, sys platform, only []netip.Prefix, log *slog.Logger) ([]Removed, error) {
	addrs, err := sys.addrs()
	if err != nil {
		return nil, fmt.Errorf("vip: listing addresses: %w", err)
	}
	var out []Removed
	var errs []error
	for _, a := range addrs {
		if !a.Ours || !selected(only, a.Prefix.Addr()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, errors.Join(append(errs, err)...)
		}
		if err := sys.del(a); err != nil {
			errs = append(errs, fmt.Errorf("vip: removing %s from %s: %w", a.Prefix, a.LinkName, err))
			continue
		}
		log.Info("removed address left by lbhc", "addr", a.Prefix.String(), "interface", a.LinkName)
		out = append(out, Removed{Prefix: a.Prefix, Interface: a.LinkName})
	}
	return out, errors.Join(errs...)
}

func selected(only []netip.Prefix, a netip.Addr) bool {
	if len(only) == 0 {
		return true
	}
	for _, p := range only {
		if p.Addr() == a {
			return true
		}
	}
	return false
}
