package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbhc/lbhc/childenv"
)

// HookActionName is the hook action's name in logs, metrics and /status.
const HookActionName = "hook"

// HookConfig configures user hooks.
//
// A command is one string run by the platform shell, so users can write
// pipelines, redirections and "$LBHC_TERM": on Unix "/bin/sh -c COMMAND", on
// Windows "cmd.exe /D /S /C COMMAND". The hook runs in its own process group
// (Unix) or job object (Windows); on timeout or when the context ends the
// whole group is killed, so a hook's children cannot outlive it.
type HookConfig struct {
	OnPromote string        // "" → nothing runs at promotion
	OnDemote  string        // "" → nothing runs at demotion
	Timeout   time.Duration // per run; default 30 s
	// MaxOutput bounds the combined stdout+stderr kept for the log, in
	// bytes (default 16 KiB); the rest is counted and dropped.
	MaxOutput int
}

// Hook runs the configured commands at promotion and demotion. A promote
// hook that fails or times out fails Promote (and so the promotion).
type Hook struct {
	cfg HookConfig
	log *slog.Logger
	m   *Metrics

	mu     sync.Mutex
	status Status
}

// NewHook builds the action.
func NewHook(cfg HookConfig, log *slog.Logger, m *Metrics) *Hook {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = 16 << 10
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.Init(HookActionName)
	return &Hook{
		cfg:    cfg,
		log:    log.With("action", HookActionName),
		m:      m,
		status: Status{Name: HookActionName, State: "idle"},
	}
}

// Name implements Action.
func (h *Hook) Name() string { return HookActionName }

// Status implements Action.
func (h *Hook) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Promote runs the on-promote command.
func (h *Hook) Promote(ctx context.Context, ev Event) error {
	return h.run(ctx, "promote", OpPromote, h.cfg.OnPromote, ev)
}

// Monitor implements Action; hooks have nothing to verify.
func (h *Hook) Monitor(context.Context, Event) (bool, error) { return false, nil }

// Demote runs the on-demote command.
func (h *Hook) Demote(ctx context.Context, ev Event) error {
	return h.run(ctx, "demote", OpDemote, h.cfg.OnDemote, ev)
}

// HookEnv is the environment variables a hook gets for event
// ("promote" or "demote") in addition to lbhc's own environment (minus
// lbhc's LBHC_* configuration variables).
// LBHC_VIPS lists the VIPs in prefix form, comma-separated.
func HookEnv(event string, ev Event) []string {
	vips := make([]string, len(ev.VIPs))
	for i, v := range ev.VIPs {
		vips[i] = v.String()
	}
	return []string{
		"LBHC_EVENT=" + event,
		"LBHC_ROLE=" + ev.Role,
		"LBHC_TERM=" + strconv.FormatUint(ev.Term, 10),
		"LBHC_NODE_ID=" + ev.NodeID,
		"LBHC_LEADER=" + ev.Leader,
		"LBHC_VIPS=" + strings.Join(vips, ","),
	}
}

// errHookTimeout tells the hook's own timeout apart from the caller's
// context ending.
var errHookTimeout = errors.New("hook timeout")

func (h *Hook) run(ctx context.Context, event, op, command string, ev Event) (err error) {
	if command == "" {
		return nil
	}
	done := h.m.Track(HookActionName, op)
	defer func() { done(err) }()
	log := h.log.With("term", ev.Term, "event", event)

	ctx, cancel := context.WithTimeoutCause(ctx, h.cfg.Timeout, errHookTimeout)
	defer cancel()
	out := &hookOutput{max: h.cfg.MaxOutput}
	cmd, err := hookCommand(command)
	if err != nil {
		err = fmt.Errorf("%s hook: %w", event, err)
		h.finish(log, event, err, 0, out)
		return err
	}
	// lbhc's own LBHC_* configuration (secrets among it) stays out; the
	// hook's LBHC_* namespace is exactly HookEnv.
	cmd.Env = append(childenv.Base(os.Environ()), HookEnv(event, ev)...)
	cmd.Stdout, cmd.Stderr = out, out
	// A hook that exits but leaves a background child holding its output
	// pipe must not block lbhc: stop reading 2 s after the exit.
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		err = fmt.Errorf("%s hook: %w", event, err)
		h.finish(log, event, err, time.Since(start), out)
		return err
	}
	group, gerr := hookGroupOf(cmd)
	if gerr != nil {
		log.Warn("hook: cannot track the hook's child processes; only the hook itself is killed on timeout", "err", gerr)
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	select {
	case err = <-waitc:
	case <-ctx.Done():
		if kerr := group.kill(cmd); kerr != nil {
			log.Warn("hook: killing the hook's processes", "err", kerr)
			_ = cmd.Process.Kill() // at least the hook itself, so Wait returns
		}
		<-waitc // returns promptly: the group is dead, WaitDelay bounds pipes
		if context.Cause(ctx) == errHookTimeout {
			err = fmt.Errorf("%s hook timed out after %s; its processes were killed", event, h.cfg.Timeout)
		} else {
			err = fmt.Errorf("%s hook cancelled; its processes were killed: %w", event, ctx.Err())
		}
	}
	group.release()
	if errors.Is(err, exec.ErrWaitDelay) {
		log.Warn("hook exited but a background process kept its output open; not waiting for it")
		err = nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%s hook failed: %w", event, err)
	}
	h.finish(log, event, err, time.Since(start), out)
	return err
}

func (h *Hook) finish(log *slog.Logger, event string, err error, took time.Duration, out *hookOutput) {
	text, dropped := out.result()
	attrs := []any{"duration", took, "output", text}
	if dropped > 0 {
		attrs = append(attrs, "output_dropped_bytes", dropped)
	}
	h.mu.Lock()
	if err != nil {
		h.status.State = "failed"
		h.status.LastError = err.Error()
		h.status.Detail = event + " hook failed"
	} else {
		h.status.State = "ok"
		h.status.LastError = ""
		h.status.Detail = fmt.Sprintf("%s hook succeeded in %s", event, took.Round(time.Millisecond))
		h.status.LastVerified = time.Now()
	}
	h.mu.Unlock()
	// "verified" for a hook means: its last run succeeded.
	h.m.SetVerified(HookActionName, err == nil)
	if err != nil {
		log.Error("hook failed", append(attrs, "err", err)...)
		return
	}
	log.Info("hook succeeded", attrs...)
}

// hookOutput keeps the first max bytes written and counts the rest.
type hookOutput struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (o *hookOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := o.max - len(o.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		o.buf = append(o.buf, p[:room]...)
	}
	o.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

func (o *hookOutput) result() (string, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.TrimRight(string(o.buf), "\n"), o.dropped
}
