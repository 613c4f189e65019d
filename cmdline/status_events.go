package cmdline

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/cloud"
)

// printEventStatus adds the VIP link and platform-notice lines of
// `lbhc status`; nothing when neither is watched.
func printEventStatus(w io.Writer, s agent.Status) {
	if s.VIPLink != "" {
		fmt.Fprintf(w, "vip link: %s\n", s.VIPLink)
	}
	p := s.Platform
	if p == nil {
		return
	}
	notice := func(n cloud.PlatformNotice) string {
		out := n.Source + " " + n.Type + " " + n.ID
		if !n.NotBefore.IsZero() {
			out += " not before " + n.NotBefore.UTC().Format(time.RFC3339)
		}
		return out
	}
	var inForce []string
	for _, n := range p.InForce {
		inForce = append(inForce, notice(n))
	}
	if len(inForce) == 0 {
		inForce = []string{"none"}
	}
	fmt.Fprintf(w, "platform notices: %s (hold: %t)\n", strings.Join(inForce, "; "), p.Hold)
	if p.LastNotice != nil {
		fmt.Fprintf(w, "last platform notice: %s -> %s at %s", notice(*p.LastNotice), p.LastAction, p.LastActionAt.Format(time.RFC3339))
		if len(p.Acknowledged) > 0 {
			fmt.Fprintf(w, ", acknowledged %s", strings.Join(p.Acknowledged, ", "))
		}
		fmt.Fprintln(w)
	}
}
