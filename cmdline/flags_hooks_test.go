//go:build unix

package cmdline

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbhc/lbhc/cloud"
)

func TestHookFlagsNoneSet(t *testing.T) {
	azRouteIsolate(t)
	acts, err := runAzRouteFlags(t)
	if err != nil || acts != nil {
		t.Fatalf("got %v, %v; want nil, nil", acts, err)
	}
}

// The hook flags come from the environment (LBHC_ON_PROMOTE, ...) as
// /etc/default/lbhc would set them, and the built action runs them.
func TestHookFlagsFromEnvironment(t *testing.T) {
	azRouteIsolate(t)
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv("LBHC_ON_PROMOTE", `echo "$LBHC_EVENT $LBHC_TERM $LBHC_VIPS" > "`+out+`"`)
	t.Setenv("LBHC_ON_DEMOTE", "sleep 5")
	t.Setenv("LBHC_HOOK_TIMEOUT", "200ms")
	acts, err := runAzRouteFlags(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Name() != "hook" {
		t.Fatalf("actions = %v", acts)
	}
	ev := cloud.Event{Role: "leader", Term: 12, NodeID: "a", Leader: "a",
		VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}, Valid: func() bool { return true }}
	if err := acts[0].Promote(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "promote 12 10.0.0.5/32\n" {
		t.Errorf("promote hook wrote %q, %v", b, err)
	}
	err = acts[0].Demote(context.Background(), cloud.Event{Role: "follower", Term: 12, NodeID: "a"})
	if err == nil || !strings.Contains(err.Error(), "demote hook timed out after 200ms") {
		t.Errorf("demote err = %v, want a timeout after --hook-timeout", err)
	}
}
