package cloud

import (
	"context"
	"net/netip"
	"slices"
	"testing"
)

func TestHookEnv(t *testing.T) {
	ev := Event{Role: "leader", Term: 42, NodeID: "node-a", Leader: "node-a",
		VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("fd00::5/128")}}
	want := []string{
		"LBHC_EVENT=promote",
		"LBHC_ROLE=leader",
		"LBHC_TERM=42",
		"LBHC_NODE_ID=node-a",
		"LBHC_LEADER=node-a",
		"LBHC_VIPS=10.0.0.5/32,fd00::5/128",
	}
	if got := HookEnv("promote", ev); !slices.Equal(got, want) {
		t.Errorf("HookEnv = %q, want %q", got, want)
	}
	want = []string{"LBHC_EVENT=demote", "LBHC_ROLE=follower", "LBHC_TERM=0", "LBHC_NODE_ID=b", "LBHC_LEADER=", "LBHC_VIPS="}
	if got := HookEnv("demote", Event{Role: "follower", NodeID: "b"}); !slices.Equal(got, want) {
		t.Errorf("HookEnv = %q, want %q", got, want)
	}
}

func TestHookOutputBounded(t *testing.T) {
	o := &hookOutput{max: 10}
	for _, s := range []string{"hello ", "world ", "and more\n"} {
		if n, err := o.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got, dropped := o.result(); got != "hello worl" || dropped != 11 {
		t.Errorf("result = %q, %d", got, dropped)
	}
}

func TestHookWithoutCommandsDoesNothing(t *testing.T) {
	h := NewHook(HookConfig{}, nil, nil)
	if h.Name() != "hook" {
		t.Errorf("Name = %q", h.Name())
	}
	if err := h.Promote(context.Background(), Event{}); err != nil {
		t.Error(err)
	}
	if err := h.Demote(context.Background(), Event{}); err != nil {
		t.Error(err)
	}
	if repaired, err := h.Monitor(context.Background(), Event{}); repaired || err != nil {
		t.Errorf("Monitor = %v, %v", repaired, err)
	}
	if st := h.Status(); st.State != "idle" || st.Name != "hook" {
		t.Errorf("status = %+v", st)
	}
}
