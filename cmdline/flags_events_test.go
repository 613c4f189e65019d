package cmdline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/cloud/aws"
	"github.com/lbhc/lbhc/cloud/azure"
	"github.com/lbhc/lbhc/vip"
)

func runEventFlags(t *testing.T, args ...string) (agent.PlatformWatcher, error) {
	t.Helper()
	var w agent.PlatformWatcher
	flags := append(eventFlags(), azureRouteFlags()...)
	flags = append(flags, awsFlags()...)
	app := &cli.App{
		Name: "lbhc", Flags: flags, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			var err error
			w, err = platformWatcher(c, slog.New(slog.DiscardHandler))
			return err
		},
	}
	err := app.RunContext(context.Background(), append([]string{"lbhc"}, args...))
	return w, err
}

func TestEventFlags(t *testing.T) {
	if w, err := runEventFlags(t); w != nil || err != nil {
		t.Fatalf("defaults: %v %v, want no watcher", w, err)
	}
	w, err := runEventFlags(t, "--azure-scheduled-events", "--azure-imds-endpoint", "http://127.0.0.1:1",
		"--azure-scheduled-events-interval", "500ms")
	az, ok := w.(*azure.AzureEventsWatcher)
	if err != nil || !ok || az.Endpoint != "http://127.0.0.1:1" || az.Interval != 500*time.Millisecond {
		t.Fatalf("azure: %#v %v", w, err)
	}
	t.Setenv("LBHC_AWS_INSTANCE_EVENTS", "true")
	t.Setenv("LBHC_AWS_INSTANCE_EVENT_TYPES", "spot,maintenance")
	w, err = runEventFlags(t)
	aw, ok := w.(*aws.AWSEventsWatcher)
	if err != nil || !ok || !slices.Equal(aw.Kinds, []string{"spot", "maintenance"}) || aw.Interval != defaultNoticeInterval {
		t.Fatalf("aws from env: %#v %v", w, err)
	}
}

func TestEventFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--azure-scheduled-events", "--aws-instance-events"}, "--aws-instance-events"},
		{[]string{"--azure-scheduled-events", "--azure-scheduled-events-interval", "100ms"}, "--azure-scheduled-events-interval"},
		{[]string{"--azure-scheduled-events", "--azure-imds-endpoint", "169.254.169.254"}, "--azure-imds-endpoint"},
		{[]string{"--aws-instance-events", "--aws-instance-events-interval", "0s"}, "--aws-instance-events-interval"},
		{[]string{"--aws-instance-events", "--aws-instance-event-types", "spot,reboot"}, "--aws-instance-event-types"},
		{[]string{"--aws-instance-events", "--aws-imds-endpoint", "ftp://x"}, "--aws-imds-endpoint"},
	} {
		_, err := runEventFlags(t, tc.args...)
		var ue *usageError
		if !errors.As(err, &ue) || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%v: %v, want a usage error naming %s", tc.args, err, tc.flag)
		}
	}
}

func TestGARPRefreshFlag(t *testing.T) {
	run := func(args ...string) (vip.Config, error) {
		var cfg vip.Config
		var err error
		app := &cli.App{
			Name: "lbhc", Flags: append(vipFlags(), vipEventFlags()...), Writer: io.Discard, ErrWriter: io.Discard,
			ExitErrHandler: func(*cli.Context, error) {},
			Action: func(c *cli.Context) error {
				var on bool
				if cfg, on, err = vipConfig(c); err != nil {
					return nil
				}
				_, err = vipEventSettings(c, &cfg, on)
				return nil
			},
		}
		if runErr := app.RunContext(context.Background(), append([]string{"lbhc"}, args...)); runErr != nil {
			t.Fatalf("%v: %v", args, runErr)
		}
		return cfg, err
	}
	if cfg, err := run("--vip", "10.0.0.5", "--vip-interface", "eth1"); err != nil || cfg.GARPRefresh != 0 {
		t.Fatalf("default: %+v %v, want off", cfg, err)
	}
	t.Setenv("LBHC_GARP_REFRESH", "1s")
	if cfg, err := run("--vip", "10.0.0.5", "--vip-interface", "eth1"); err != nil || cfg.GARPRefresh != time.Second {
		t.Fatalf("from env: %+v %v", cfg, err)
	}
	if _, err := run(); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--garp-refresh") {
		t.Fatalf("without --vip: %v", err)
	}
	// Judged while parsing, not when the VIP manager is built after the
	// instance-metadata look-ups.
	if _, err := run("--vip", "10.0.0.5", "--vip-mode", "loopback"); err == nil || exitCode(err) != 2 ||
		err.Error() != "invalid --garp-refresh: needs --vip-mode nic (nothing is announced in loopback mode)" {
		t.Fatalf("refresh in loopback mode: %v", err)
	}
	if _, err := run("--vip", "10.0.0.5", "--vip-interface", "eth1", "--garp-refresh", "1ms"); err == nil || exitCode(err) != 2 ||
		!strings.Contains(err.Error(), "--garp-refresh") {
		t.Fatalf("refresh below the floor: %v", err)
	}
}
