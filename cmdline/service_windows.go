//go:build windows

package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// defaultServiceName is the SCM service name and event log source unless
// --name says otherwise (several groups on one host: lbhc-web, lbhc-db).
const defaultServiceName = "lbhc"

// serviceStopWait is how long the SCM is told a stop may take, and how long
// `service uninstall` waits for it: lbhc bounds its demote + lease release
// by --shutdown-timeout (default --renew-deadline, 10 s); 30 s adds margin,
// as TimeoutStopSec=30s in systemd/lbhc.service.
const serviceStopWait = 30 * time.Second

// serviceCommand is `lbhc service install|uninstall|run`: lbhc as a
// Windows service. The installed service runs
//
//	lbhc.exe service run --name NAME [--env-file FILE] -- RUN-FLAGS...
//
// which reads FILE (VAR=value lines, the format of /etc/default/lbhc) into
// the environment and then runs `lbhc RUN-FLAGS...` under the service
// control manager: SCM Stop/Shutdown cancels the run action's context, and
// lbhc's log lines (stderr) go to the Windows event log, source NAME.
func serviceCommand() *cli.Command {
	nameFlag := &cli.StringFlag{
		Name:  "name",
		Value: defaultServiceName,
		Usage: "Windows service name (also the event log source)",
	}
	envFileFlag := &cli.StringFlag{
		Name:  "env-file",
		Usage: "file of LBHC_*=value lines read at every service start (like /etc/default/lbhc)",
	}
	return &cli.Command{
		Name:  "service",
		Usage: "install, remove or run lbhc as a Windows service",
		Subcommands: []*cli.Command{
			{
				Name:      "install",
				Usage:     "register lbhc as a Windows service (does not start it)",
				ArgsUsage: "[-- RUN-FLAGS...]",
				Description: "Registers the running executable as service NAME (LocalSystem, automatic\n" +
					"delayed start, restart on failure) and as event log source NAME.\n" +
					"Arguments after -- are flags of `lbhc run`; settings are better kept in\n" +
					"--env-file, which is read again at every start. Start it with\n" +
					"Start-Service NAME.",
				Flags: []cli.Flag{
					nameFlag,
					envFileFlag,
					&cli.StringFlag{Name: "display-name", Value: "lbhc load-balancer health check", Usage: "name shown in services.msc"},
					&cli.StringFlag{Name: "start", Value: "auto", Usage: "start type: auto, manual or disabled"},
				},
				Action: serviceInstall,
			},
			{
				Name:   "uninstall",
				Usage:  "stop (letting lbhc demote and release) and remove the Windows service",
				Flags:  []cli.Flag{nameFlag},
				Action: serviceUninstall,
			},
			{
				Name:      "run",
				Usage:     "entry point the service control manager starts (not for interactive use)",
				ArgsUsage: "[-- RUN-FLAGS...]",
				Flags:     []cli.Flag{nameFlag, envFileFlag},
				Action:    serviceRun,
			},
		},
	}
}

// runningAsService reports whether the service control manager started this
// process. The run action can use it to call runService itself when a
// service was registered as plain `lbhc.exe run` (e.g. with sc.exe).
func runningAsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// runService runs run as the Windows service name until it returns. It
// reports Running once run has been started, and cancels run's context on
// SCM Stop or Shutdown, reporting StopPending with a wait hint (and
// advancing the checkpoint every 5 s) until run returns. run's error is
// returned; the SCM sees it as service-specific exit code exitCode(err) (1
// runtime, 2 configuration) so the recovery actions restart the service.
func runService(name string, run func(ctx context.Context) error) error {
	h := &serviceHandler{run: run}
	if err := svc.Run(name, h); err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	return h.err
}

type serviceHandler struct {
	run func(ctx context.Context) error
	err error
}

func (h *serviceHandler) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.Running, Accepts: accepts}

	var tick <-chan time.Time // set while stopping
	var checkpoint uint32
	for {
		select {
		case err := <-done:
			if tick != nil && errors.Is(err, context.Canceled) {
				err = nil // asked to stop, and stopped
			}
			h.err = err
			status <- svc.Status{State: svc.StopPending}
			if code := exitCode(err); code != 0 {
				return true, uint32(code)
			}
			return false, 0
		case <-tick:
			checkpoint++
			status <- svc.Status{State: svc.StopPending, CheckPoint: checkpoint, WaitHint: uint32(serviceStopWait / time.Millisecond)}
		case req := <-reqs:
			switch req.Cmd {
			case svc.Interrogate:
				status <- req.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if tick == nil {
					status <- svc.Status{State: svc.StopPending, WaitHint: uint32(serviceStopWait / time.Millisecond)}
					cancel()
					t := time.NewTicker(5 * time.Second)
					defer t.Stop()
					tick = t.C
				}
			}
		}
	}
}

func serviceInstall(c *cli.Context) error {
	name := c.String("name")
	if err := checkServiceName(name); err != nil {
		return err
	}
	start, err := parseStartType(c.String("start"))
	if err != nil {
		return err
	}
	args := []string{"service", "run", "--name", name}
	if f := c.String("env-file"); f != "" {
		abs, err := filepath.Abs(f)
		if err != nil {
			return flagErr("env-file", "%v", err)
		}
		if _, err := readEnvFile(abs); err != nil {
			return err
		}
		args = append(args, "--env-file", abs)
	}
	if c.Args().Len() > 0 {
		args = append(args, "--")
		args = append(args, c.Args().Slice()...)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("service install: locating lbhc.exe: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return fmt.Errorf("service install: %w", err)
	}

	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service install: connecting to the service control manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(name); err == nil {
		s.Close()
		return fmt.Errorf("service install: service %q already exists (lbhc service uninstall --name %s)", name, name)
	}
	s, err := m.CreateService(name, exe, mgr.Config{
		DisplayName: c.String("display-name"),
		Description: "Leader election for nodes behind a cloud load balancer: the leader owns the VIP and answers the health probe.",
		StartType:   start,
		// LocalSystem: adding and removing unicast addresses (IP Helper)
		// needs administrative rights.
		ServiceStartName: "LocalSystem",
	}, args...)
	if err != nil {
		return fmt.Errorf("service install: creating service %q: %w", name, err)
	}
	defer s.Close()
	if start == mgr.StartAutomatic {
		// Delayed: start after the network stack and the other automatic
		// services, not in the boot rush.
		info := windows.SERVICE_DELAYED_AUTO_START_INFO{IsDelayedAutoStartUp: 1}
		err := windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, (*byte)(unsafe.Pointer(&info)))
		if err := optionalServiceConfig(c.App.ErrWriter, "delayed automatic start", err); err != nil {
			_ = s.Delete()
			return fmt.Errorf("service install: %w", err)
		}
	}
	// Like Restart=always: restart after 2 s, 2 s, then 30 s; forget
	// failures after a day. Non-crash failures (an error exit) count too.
	recovery := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 2 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 2 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
	}
	if err := s.SetRecoveryActions(recovery, uint32((24 * time.Hour).Seconds())); err != nil {
		_ = s.Delete()
		return fmt.Errorf("service install: setting recovery actions: %w", err)
	}
	err = s.SetRecoveryActionsOnNonCrashFailures(true)
	if err := optionalServiceConfig(c.App.ErrWriter, "recovery actions on error exits", err); err != nil {
		_ = s.Delete()
		return fmt.Errorf("service install: %w", err)
	}
	if err := eventlog.InstallAsEventCreate(name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		// An existing source (from an earlier install) is fine.
		if !strings.Contains(err.Error(), "registry key already exists") {
			_ = s.Delete()
			return fmt.Errorf("service install: registering event log source %q: %w", name, err)
		}
	}
	fmt.Fprintf(c.App.Writer, "installed service %q: %s %s\nstart it with: Start-Service %s\n", name, exe, strings.Join(args, " "), name)
	return nil
}

// optionalServiceConfig decides about the error of a setting the service
// works without: delayed automatic start (SERVICE_CONFIG_DELAYED_AUTO_START_INFO)
// and recovery actions on error exits (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG;
// without it the SCM restarts lbhc only after a crash, not after an exit
// with status 1 or 2). A service control manager that does not know the
// information level (ERROR_INVALID_LEVEL: Wine 8's knows neither; every
// Windows since Vista/Server 2008 knows both) gets a warning on w and the
// install goes on; any other error fails the install.
func optionalServiceConfig(w io.Writer, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		fmt.Fprintf(w, "lbhc: warning: service install: %s not set: this service control manager does not support it (%v)\n", what, err)
		return nil
	}
	return fmt.Errorf("setting %s: %w", what, err)
}

func serviceUninstall(c *cli.Context) error {
	name := c.String("name")
	if err := checkServiceName(name); err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service uninstall: connecting to the service control manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("service uninstall: service %q: %w", name, err)
	}
	defer s.Close()
	// Stop first so lbhc demotes and releases the lease instead of being
	// killed with its VIP still assigned.
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if st.State != svc.StopPending {
			if _, err := s.Control(svc.Stop); err != nil {
				return fmt.Errorf("service uninstall: stopping %q: %w", name, err)
			}
		}
		deadline := time.Now().Add(serviceStopWait + 15*time.Second)
		for {
			st, err := s.Query()
			if err != nil {
				return fmt.Errorf("service uninstall: querying %q: %w", name, err)
			}
			if st.State == svc.Stopped {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("service uninstall: %q did not stop within %s", name, serviceStopWait+15*time.Second)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("service uninstall: deleting %q: %w", name, err)
	}
	if err := eventlog.Remove(name); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "service uninstall: removing event log source %q: %v\n", name, err)
	}
	fmt.Fprintf(c.App.Writer, "removed service %q\n", name)
	return nil
}

// serviceRun is what the SCM starts. Once connected to the SCM it loads
// --env-file, sends stderr to the event log and runs `lbhc run RUN-FLAGS...`
// under runService.
//
// Whether the SCM started the process is decided by connecting to it
// (StartServiceCtrlDispatcher fails with
// ERROR_FAILED_SERVICE_CONTROLLER_CONNECT otherwise), not by
// svc.IsWindowsService: that guesses from the parent process
// (services.exe in session 0), and Wine runs its services.exe in session 1.
// Nothing is redirected before the connection succeeds, so run from a
// console the error reaches the console.
func serviceRun(c *cli.Context) error {
	name := c.String("name")
	envFile := c.String("env-file")
	argv := append([]string{os.Args[0], "run"}, c.Args().Slice()...)
	app := c.App
	// Errors come back to runService (and from there to the SCM as the
	// exit code); urfave/cli must not os.Exit on them.
	app.ExitErrHandler = func(*cli.Context, error) {}
	var elog *eventlog.Log
	started := false // the SCM called Execute
	err := runService(name, func(ctx context.Context) error {
		started = true
		var err error
		if elog, err = eventlog.Open(name); err != nil {
			return fmt.Errorf("service %s: opening event log: %w", name, err)
		}
		if envFile != "" {
			env, err := readEnvFile(envFile)
			if err != nil {
				return err
			}
			for _, kv := range env {
				os.Setenv(kv[0], kv[1])
			}
		}
		// A service has no console: lbhc's logs (slog on stderr) and the
		// CLI's error output become event log entries, one per line.
		stop, err := stderrToEventLog(elog)
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		defer stop()
		app.ErrWriter = os.Stderr
		return app.RunContext(ctx, argv)
	})
	// Wine's StartServiceCtrlDispatcher returns success at once, without
	// running the service, in a process the SCM did not start.
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) || (err == nil && !started) {
		return errors.New("lbhc service run: not started by the service control manager; use `lbhc run` in a console or Start-Service " + name)
	}
	if elog != nil {
		if err != nil {
			_ = elog.Error(1, fmt.Sprintf("lbhc stopped: %v", err))
		}
		elog.Close()
	}
	return err
}
