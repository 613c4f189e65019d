package cmdline

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lbhc/lbhc/agent"
)

// printPeerStatus adds the peer and failsafe lines of `lbhc status`
// (issue 16).
func printPeerStatus(w io.Writer, s agent.Status) {
	ms := func(v int64) string { return (time.Duration(v) * time.Millisecond).String() }
	for _, p := range s.Peers {
		state := "down"
		if p.Up {
			state = "up"
		}
		line := fmt.Sprintf("peer %s (%s): %s", p.ID, p.Addr, state)
		if p.Role != "" {
			line += fmt.Sprintf(", %s in term %d", p.Role, p.Term)
		}
		if p.LastSeenMS > 0 {
			line += ", last heard " + ms(p.LastSeenMS) + " ago"
		} else {
			line += ", never heard"
		}
		if p.PromiseUntilMS > 0 {
			line += ", promised for " + ms(p.PromiseUntilMS)
		}
		fmt.Fprintln(w, line)
	}
	f := s.Failsafe
	if f == nil {
		return
	}
	switch {
	case !f.Enabled:
		fmt.Fprintln(w, "failsafe: off")
	case f.Active:
		fmt.Fprintf(w, "failsafe: ACTIVE for %s (backend %s), leading on the peers' promises for %s more\n",
			ms(f.SinceMS), f.Reason, ms(f.ValidForMS))
	default:
		fmt.Fprintf(w, "failsafe: on (promise %s), not active\n", f.Promise)
	}
	if len(f.Given) > 0 {
		var g []string
		for _, p := range f.Given {
			g = append(g, fmt.Sprintf("%s term %d for %s", p.Leader, p.Term, ms(p.LeftMS)))
		}
		fmt.Fprintf(w, "promised not to take over: %s\n", strings.Join(g, "; "))
	}
}
