package cmdline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/probe"
)

// backendFunc builds the election backend named by --election.
type backendFunc func(ctx context.Context, c *cli.Context, nodeID, leaseName string, ttl time.Duration) (election.Backend, error)

var backends = map[string]backendFunc{
	"file":     fileBackend,
	"azblob":   azureLeaseBackend,
	"dynamodb": dynamodbBackend,
	"etcd":     etcdBackend,
	"none": func(_ context.Context, _ *cli.Context, nodeID, _ string, _ time.Duration) (election.Backend, error) {
		return election.NewNoneBackend(nodeID), nil
	},
}

// backendCheck validates a backend's flags without I/O (phase 1 of run);
// its backendFunc connects later.
type backendCheck func(c *cli.Context, leaseName string, ttl time.Duration) error

var backendChecks = map[string]backendCheck{
	"azblob":   azureLeaseCheck,
	"dynamodb": dynamodbCheck,
	"etcd":     etcdCheck,
}

func backendNames() string {
	names := make([]string, 0, len(backends))
	for n := range backends {
		names = append(names, n)
	}
	sortStrings(names)
	return strings.Join(names, ", ")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// defaultStateDir is /var/lib/lbhc for root, else the user's state
// directory ($XDG_STATE_HOME/lbhc or ~/.local/state/lbhc), so the embedded
// default works without privileges.
func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/lbhc"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "lbhc")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "lbhc")
	}
	return filepath.Join(os.TempDir(), "lbhc-"+strconv.Itoa(os.Getuid()))
}

// stateDirDefaultText is defaultStateDir in words, for help and the README.
const stateDirDefaultText = "/var/lib/lbhc (root), else ~/.local/state/lbhc"

func defaultNodeID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

func coreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "node-id", Value: defaultNodeID(), DefaultText: "hostname", EnvVars: envs("node-id"), Usage: "this node's unique name in the group"},
		&cli.StringFlag{Name: "election", Value: "file", EnvVars: envs("election"), Usage: "lease backend: " + backendNames()},
		&cli.StringFlag{Name: "lease-name", Value: "lbhc", EnvVars: envs("lease-name"), Usage: "name of the group's lease (blob, item key, etcd key, file name)"},
		&cli.StringFlag{Name: "lease-file", EnvVars: envs("lease-file"), Usage: "file backend: lease record path (default: <state-dir>/<lease-name>.lease)"},
		&cli.DurationFlag{Name: "lease-ttl", Value: election.DefaultLeaseTTL, EnvVars: envs("lease-ttl"), Usage: "how long a grant lasts without renewal"},
		&cli.DurationFlag{Name: "renew-deadline", Value: election.DefaultRenewDeadline, EnvVars: envs("renew-deadline"), Usage: "a leader that cannot confirm a renewal for this long demotes (< lease-ttl)"},
		&cli.DurationFlag{Name: "retry-period", Value: election.DefaultRetryPeriod, EnvVars: envs("retry-period"), Usage: "interval of renewals and acquire attempts (1.2x < renew-deadline)"},
		&cli.IntSliceFlag{Name: "probe-port", Value: cli.NewIntSlice(26001), EnvVars: envs("probe-port"), Usage: "probe port(s) answered only by the leader; repeat or comma-separate"},
		&cli.StringFlag{Name: "probe-protocol", Value: "tcp", EnvVars: envs("probe-protocol"), Usage: "tcp (accept, write message, close) or http (200 on GET/HEAD)"},
		&cli.StringFlag{Name: "probe-address", EnvVars: envs("probe-address"), Usage: "bind the probe port(s) to this address only (default: all)"},
		&cli.StringFlag{Name: "probe-message", EnvVars: envs("probe-message"), Usage: "tcp: bytes written before close; http: 200 body"},
		&cli.StringFlag{Name: "probe-standby", Value: probe.StandbyClosed, EnvVars: envs("probe-standby"), Usage: "what followers do: closed (port closed) or 503 (http only)"},
		&cli.IntFlag{Name: "probe-max-conns", Value: 128, EnvVars: envs("probe-max-conns"), Usage: "concurrent probe connections; the oldest is dropped when full"},
		&cli.DurationFlag{Name: "probe-timeout", Value: 2 * time.Second, EnvVars: envs("probe-timeout"), Usage: "read/write deadline of one probe connection"},
		&cli.IntFlag{Name: "probe-backlog", EnvVars: envs("probe-backlog"), Usage: "listen backlog (Linux); 0 = 128 with the kernel fence, else 4 (a frozen process's kernel completes at most that many handshakes)"},
		&cli.BoolFlag{Name: "probe-kernel-fence", Value: true, EnvVars: envs("probe-kernel-fence"), Usage: "Linux: an eBPF socket filter drops probe packets in the kernel once the leadership deadline passes, even while lbhc is frozen (needs CAP_BPF or root)"},
		&cli.DurationFlag{Name: "probe-idle-timeout", EnvVars: envs("probe-idle-timeout"), Usage: "leader without any probe for this long: warn (0 = off)"},
		&cli.StringFlag{Name: "probe-idle-action", Value: "warn", EnvVars: envs("probe-idle-action"), Usage: "warn or demote when --probe-idle-timeout passes"},
		&cli.IntFlag{Name: "priority", Value: 1, EnvVars: envs("priority"), Usage: "1 is the best; a node of priority p waits (p-1) x --priority-step before taking a free lease"},
		&cli.DurationFlag{Name: "priority-step", DefaultText: "retry-period + 500ms", EnvVars: envs("priority-step"), Usage: "acquire delay per priority level"},
		&cli.StringFlag{Name: "cloud-failure-policy", Value: "demote", EnvVars: envs("cloud-failure-policy"), Usage: "a cloud action failing after its retries: demote (undo, release, back off) or continue"},
		&cli.DurationFlag{Name: "cloud-monitor-interval", Value: 10 * time.Second, EnvVars: envs("cloud-monitor-interval"), Usage: "how often the leader verifies and repairs cloud state"},
		&cli.StringFlag{Name: "admin-address", Value: "127.0.0.1:9102", EnvVars: envs("admin-address"), Usage: "admin API: /status, /metrics, /healthz, POST /switchover|/standby|/resume"},
		&cli.StringFlag{Name: "admin-token-file", EnvVars: envs("admin-token-file"), Usage: "file with a bearer token; without it POSTs are accepted from loopback only"},
		&cli.StringFlag{Name: "state-dir", Value: defaultStateDir(), DefaultText: stateDirDefaultText, EnvVars: envs("state-dir"), Usage: "node state (standby flag, default lease file)"},
		&cli.DurationFlag{Name: "shutdown-timeout", DefaultText: "renew-deadline", EnvVars: envs("shutdown-timeout"), Usage: "one budget for the whole demotion at SIGTERM (and for every other demotion): cancel a running promotion, demote steps, VIP removal, lease release; 1/4 is kept for the release, slow steps are cut"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: envs("log-format"), Usage: "text or json"},
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: envs("log-level"), Usage: "debug, info, warn or error"},
	}
}

func fileBackend(_ context.Context, c *cli.Context, nodeID, leaseName string, ttl time.Duration) (election.Backend, error) {
	path := c.String("lease-file")
	if path == "" {
		path = filepath.Join(c.String("state-dir"), leaseName+".lease")
	}
	if err := makeStateLeaseDir(c.String("state-dir"), path); err != nil {
		return nil, err
	}
	st, err := election.NewFileStore(path)
	if err != nil {
		return nil, err
	}
	return election.NewCASBackend(st, nodeID, ttl, nil), nil
}

func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, flagErr("log-level", "%q is not one of debug, info, warn, error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationAttr}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, flagErr("log-format", "%q is not text or json", c.String("log-format"))
}

// durationAttr renders time.Duration attributes as "5s" rather than as
// nanosecond integers (what slog's JSON handler writes by default), so JSON
// and text logs read alike.
func durationAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

func nonNegative(c *cli.Context, names ...string) error {
	for _, n := range names {
		if d := c.Duration(n); d < 0 {
			return flagErr(n, "must not be negative, got %s", d)
		}
	}
	return nil
}

func runCommand() *cli.Command {
	flags := coreFlags()
	flags = append(flags, hardeningFlags()...)
	flags = append(flags, extraRunFlags()...)
	return &cli.Command{
		Name:   "run",
		Usage:  "run the agent (every node of the group runs this)",
		Flags:  flags,
		Action: runAction,
	}
}

// runAction validates everything before touching the network or the
// system: invalid input exits 2 and changes nothing.
func runAction(c *cli.Context) error {
	log, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer ignoreHangup(log)()
	// Phase 1: parse and validate every flag. No I/O: a bad value exits 2
	// naming the flag before anything touches the network or the system.
	if c.Args().Present() {
		return &usageError{Msg: fmt.Sprintf("run takes no arguments, got %q (flags start with --)", c.Args().Slice())}
	}
	if err := nonNegative(c, "lease-ttl", "renew-deadline", "retry-period", "probe-timeout", "probe-idle-timeout",
		"priority-step", "cloud-monitor-interval", "shutdown-timeout"); err != nil {
		return err
	}
	timing := election.Config{
		NodeID:        c.String("node-id"),
		LeaseTTL:      c.Duration("lease-ttl"),
		RenewDeadline: c.Duration("renew-deadline"),
		RetryPeriod:   c.Duration("retry-period"),
	}
	if err := timing.Validate(); err != nil {
		return err
	}
	if err := validateRunValues(c); err != nil {
		return err
	}
	newBackend, ok := backends[c.String("election")]
	if !ok {
		return flagErr("election", "unknown backend %q (want one of %s)", c.String("election"), backendNames())
	}
	if check := backendChecks[c.String("election")]; check != nil {
		if err := check(c, c.String("lease-name"), timing.LeaseTTL); err != nil {
			return err
		}
	}
	pcfg := probe.Config{
		Protocol: c.String("probe-protocol"), Ports: c.IntSlice("probe-port"), Address: c.String("probe-address"),
		Message: c.String("probe-message"), Standby: c.String("probe-standby"), NodeID: timing.NodeID,
		MaxConns: c.Int("probe-max-conns"), Timeout: c.Duration("probe-timeout"), Backlog: c.Int("probe-backlog"),
		NoKernelFence: !c.Bool("probe-kernel-fence"),
	}
	if pcfg.Allow, err = probe.ParseAllow(c.StringSlice("probe-allow")); err != nil {
		return err
	}
	if err := pcfg.Validate(); err != nil {
		return err
	}
	idleAction := c.String("probe-idle-action")
	if idleAction != "warn" && idleAction != "demote" {
		return flagErr("probe-idle-action", "%q is not warn or demote", idleAction)
	}
	policy := c.String("cloud-failure-policy")
	if policy != "demote" && policy != "continue" {
		return flagErr("cloud-failure-policy", "%q is not demote or continue", policy)
	}
	if p := c.Int("priority"); p < 1 || p > 1000 {
		return flagErr("priority", "%d is out of range 1-1000 (1 is the best)", p)
	}
	if c.Int("probe-max-conns") < 1 {
		return flagErr("probe-max-conns", "must be at least 1, got %d", c.Int("probe-max-conns"))
	}
	if c.Duration("cloud-monitor-interval") == 0 {
		return flagErr("cloud-monitor-interval", "must be positive")
	}
	settings, err := parseExtraParts(c, log)
	if err != nil {
		return err
	}
	failsafe, err := parseFailsafe(c, timing, settings.peer)
	if err != nil {
		return err
	}

	// Phase 2: resolve what the flags point at on this host: the token
	// file, the socket group, this host's addresses.
	token, err := readToken(c.String("admin-token-file"))
	if err != nil {
		return err
	}
	if err := validateAdminAddress(c.String("admin-address"), token != ""); err != nil {
		return err
	}
	socketGID, err := adminSocketGID(c.String("admin-socket-group"))
	if err != nil {
		return err
	}
	if err := resolvePeerKeys(c, settings.peer); err != nil {
		return err
	}
	var vips []netip.Prefix
	if settings.withVIPs {
		vips = settings.vip.Addrs
	}
	if err := checkProbeAddressLocal(pcfg.Address, vips); err != nil {
		return err
	}

	// Phase 3: build the parts (instance metadata and backend look-ups
	// happen here) and hand them to the agent.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := registerGroupInfo(reg, c.String("lease-name"), timing.NodeID); err != nil {
		return err
	}
	extra, err := buildExtraParts(c.Context, c, settings, log, reg)
	if err != nil {
		return err
	}
	defer extra.close()
	backend, err := newBackend(c.Context, c, timing.NodeID, c.String("lease-name"), timing.LeaseTTL)
	if err != nil {
		return err
	}
	defer backend.Close()
	if err := keepTerms(c.String("state-dir"), c.String("lease-name"), backend); err != nil {
		return err
	}
	opts := election.Options{Logger: log.With("part", "election"), Registerer: reg}
	peers, err := buildPeers(c, settings.peer, failsafe, backend, &opts, log, reg)
	if err != nil {
		return err
	}
	eng, err := election.NewEngine(timing, backend, opts)
	if err != nil {
		return err
	}
	prober, err := probe.New(pcfg, log.With("part", "probe"), reg)
	if err != nil {
		return err
	}
	acfg := agent.Config{
		NodeID: timing.NodeID, Election: c.String("election"), Timing: timing, VIPs: extra.vips,
		Priority: c.Int("priority"), PriorityStep: c.Duration("priority-step"),
		ProbeProtocol: pcfg.Protocol, ProbePorts: pcfg.Ports,
		ProbeIdleTimeout: c.Duration("probe-idle-timeout"), ProbeIdleDemote: idleAction == "demote",
		CloudFailureContinue: policy == "continue", MonitorInterval: c.Duration("cloud-monitor-interval"),
		ReconcileInterval: extra.reconcile,
		AdminAddress:      c.String("admin-address"), AdminToken: token, StateDir: c.String("state-dir"),
		AdminSocketGID: socketGID, AdminOpenMetrics: c.Bool("admin-open-metrics"),
		ShutdownTimeout: c.Duration("shutdown-timeout"), Version: version,
	}
	parts := agent.Parts{Engine: eng, Probe: prober, Actions: extra.actions}
	if extra.addrs != nil {
		parts.VIPs = extra.addrs
	}
	if extra.health != nil {
		parts.Health = extra.health
	}
	if extra.platform != nil {
		parts.Platform = extra.platform
	}
	if extra.link != nil {
		parts.Link = extra.link
		acfg.VIPLinkGrace, acfg.VIPInterface = extra.linkGrace, extra.vipIface
	}
	peers.bind(eng, &parts)
	a, err := agent.New(acfg, parts, log, reg)
	if err != nil {
		return err
	}
	// Held until exit, so `lbhc cleanup` never removes a live agent's VIPs.
	unlock, err := holdRunLock(c.Context, acfg.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	// Once start-up is over, give back the executable pages it touched
	// (trim_linux.go). One timer, once.
	trim := time.AfterFunc(startupPagesDelay, func() {
		if err := dropExecutablePages(); err != nil {
			log.Debug("could not drop start-up pages", "err", err)
		}
	})
	defer trim.Stop()
	return a.Run(c.Context)
}

// startupPagesDelay is how long after the agent starts the start-up pages
// are dropped: by then the node has campaigned, read its state and opened
// its listeners.
const startupPagesDelay = 5 * time.Second

func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", flagErr("admin-token-file", "%v", err)
	}
	if !fi.Mode().IsRegular() {
		return "", flagErr("admin-token-file", "%s is not a regular file", path)
	}
	if err := checkTokenFileMode(path, fi); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", flagErr("admin-token-file", "%v", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", flagErr("admin-token-file", "%s is empty", path)
	}
	return t, nil
}

// actionsOf concatenates cloud actions built by the optional flag groups.
func actionsOf(groups ...[]cloud.Action) []cloud.Action {
	var out []cloud.Action
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
