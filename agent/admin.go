package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbhc/lbhc/check"
	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/vip"
)

// Status is the /status document.
type Status struct {
	NodeID          string           `json:"node_id"`
	Role            string           `json:"role"`
	Leader          string           `json:"leader"`
	Term            uint64           `json:"term"`
	Transition      string           `json:"transition,omitempty"` // promoting | demoting
	Election        string           `json:"election"`
	LeaseDeadlineMS int64            `json:"lease_deadline_in_ms,omitempty"`
	Campaigning     bool             `json:"campaigning"`
	Standby         bool             `json:"standby"`
	Healthy         bool             `json:"healthy"`
	Priority        int              `json:"priority"`
	Probe           ProbeStatus      `json:"probe"`
	VIPs            []vip.AddrStatus `json:"vips,omitempty"`
	Actions         []cloud.Status   `json:"actions,omitempty"`
	Checks          []check.Status   `json:"checks,omitempty"`
	LastChange      time.Time        `json:"last_change,omitzero"`
	LastReason      string           `json:"last_reason,omitempty"`
	BackendError    string           `json:"backend_error,omitempty"`
	// Candidates: who could take over from this leader (leaders only).
	Candidates *CandidatesStatus `json:"candidates,omitempty"`
	Platform   *PlatformStatus   `json:"platform,omitempty"`
	VIPLink    string            `json:"vip_link,omitempty"` // up, down ("" = not watched)
	// Peers: the configured peers and what each last said (with --peer).
	Peers    []PeerInfo    `json:"peers,omitempty"`
	Failsafe *FailsafeInfo `json:"failsafe,omitempty"`
	Timing   Timing        `json:"timing"`
	Version  string        `json:"version"`
}

// ProbeStatus is the probe part of /status.
type ProbeStatus struct {
	Protocol    string `json:"protocol"`
	Ports       []int  `json:"ports"`
	Listening   bool   `json:"listening"`
	KernelFence bool   `json:"kernel_fence"`
	// SinceLastProbe is the time since the last probe connection was
	// accepted, e.g. "1.2s"; "" when no probe came since lbhc started.
	SinceLastProbe string `json:"since_last_probe"`
}

// Timing is the election timing in /status.
type Timing struct {
	LeaseTTL      string `json:"lease_ttl"`
	RenewDeadline string `json:"renew_deadline"`
	RetryPeriod   string `json:"retry_period"`
}

// Snapshot returns the current status document.
func (a *Agent) Snapshot() Status {
	es := a.p.Engine.Status()
	a.mu.Lock()
	s := Status{
		NodeID: a.cfg.NodeID, Role: a.role, Term: a.term, Election: a.cfg.Election,
		Standby: a.standby, Priority: a.cfg.Priority, Transition: a.transition, LastChange: a.lastChange, LastReason: a.lastReason,
		Version: a.cfg.Version, BackendError: es.LastError,
		Timing: Timing{a.cfg.Timing.LeaseTTL.String(), a.cfg.Timing.RenewDeadline.String(), a.cfg.Timing.RetryPeriod.String()},
	}
	l := a.lease
	a.mu.Unlock()
	s.Campaigning = es.Eligible && !s.Standby
	s.Leader = es.Leader
	if s.Role == RoleLeader && l.Valid() {
		s.Leader = a.cfg.NodeID
		s.Term = l.CurrentTerm() // a failsafe re-acquisition may have moved it
		s.LeaseDeadlineMS = time.Until(l.Deadline()).Milliseconds()
		s.Candidates = candidatesStatus(a.p.Engine.Candidates())
	} else if s.Role != RoleLeader && es.Term > s.Term {
		s.Term = es.Term
	}
	s.Healthy = a.p.Health == nil || a.p.Health.Healthy()
	s.Probe = ProbeStatus{Protocol: a.cfg.ProbeProtocol, Ports: a.cfg.ProbePorts, Listening: a.p.Probe.Listening(),
		KernelFence: a.p.Probe.KernelFence()}
	if a.p.Probe.Probed() {
		s.Probe.SinceLastProbe = a.p.Probe.SinceLastProbe().Round(time.Millisecond).String()
	}
	if a.p.VIPs != nil {
		s.VIPs = a.p.VIPs.Status()
	}
	for _, act := range a.p.Actions {
		s.Actions = append(s.Actions, act.Status())
	}
	if a.p.Health != nil {
		s.Checks = a.p.Health.Status()
	}
	s.Platform = a.platformStatus()
	s.VIPLink = a.vipLinkState()
	if a.p.Peers != nil {
		s.Peers, s.Failsafe = a.p.Peers.status()
	}
	return s
}

// adminMux is the admin API. trusted is true on the unix socket, whose
// file mode already limits who can connect; over TCP, authorizeTCP decides.
func (a *Agent) adminMux(trusted bool) http.Handler {
	guard := func(h http.HandlerFunc, state bool, path string) http.HandlerFunc {
		if trusted {
			return h
		}
		return a.authorizeTCP(h, state, path)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", guard(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Snapshot())
	}, false, "/status"))
	mux.HandleFunc("GET /healthz", guard(a.serveHealthz, false, "/healthz"))
	mux.HandleFunc("GET /readyz", guard(a.serveReadyz, false, "/readyz"))
	mux.Handle("GET /metrics", guard(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}).ServeHTTP, false, "/metrics"))
	for _, op := range []string{"switchover", "standby", "resume"} {
		mux.HandleFunc("POST /"+op, guard(func(w http.ResponseWriter, r *http.Request) { a.serveCommand(w, r, op) }, true, "/"+op))
	}
	return mux
}

// authorizeTCP guards an endpoint served over TCP. State-changing calls
// always need the bearer token (any local user can reach a loopback port;
// the unix socket is the token-free way). On a non-loopback address every
// endpoint needs it, except /metrics when --admin-open-metrics says so.
func (a *Agent) authorizeTCP(h http.HandlerFunc, state bool, path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		open := !state && (a.adminLoopback() || (path == "/metrics" && a.cfg.AdminOpenMetrics))
		if open {
			h(w, r)
			return
		}
		if a.cfg.AdminToken == "" {
			msg := "state-changing calls over TCP need --admin-token-file"
			if sock := a.adminSocketPath(); sock != "" {
				msg += "; local operators use the unix socket " + sock
			}
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.AdminToken)) != 1 {
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// CommandResult is the JSON answer of the POST endpoints.
type CommandResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Leader  string `json:"leader,omitempty"`
}

func (a *Agent) serveCommand(w http.ResponseWriter, r *http.Request, op string) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.ShutdownTimeout+5*time.Second)
	defer cancel()
	if op == "switchover" {
		if msg := a.switchoverCheck(); msg != "" {
			writeJSON(w, http.StatusConflict, CommandResult{Message: msg})
			return
		}
	}
	res := a.do(ctx, op)
	if op != "switchover" || res.status != 202 {
		writeJSON(w, res.status, CommandResult{OK: res.status < 300, Message: res.msg})
		return
	}
	// Watch for another node to take over while this one sits out.
	end := time.Now().Add(res.wait)
	for time.Now().Before(end) {
		if l := a.p.Engine.Status().Leader; l != "" && l != a.cfg.NodeID {
			writeJSON(w, http.StatusOK, CommandResult{OK: true, Message: "leadership moved to " + l, Leader: l})
			return
		}
		select {
		case <-ctx.Done():
			writeJSON(w, http.StatusGatewayTimeout, CommandResult{Message: ctx.Err().Error()})
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	writeJSON(w, http.StatusConflict, CommandResult{Message: fmt.Sprintf(
		"no other node took over within %s (are the others in standby, unhealthy or down?); this node campaigns again", res.wait)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type configError struct{ flag, msg string }

func (e *configError) Error() string { return "invalid --" + e.flag + ": " + e.msg }
func (e *configError) ExitCode() int { return 2 }
