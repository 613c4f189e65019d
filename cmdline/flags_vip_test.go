package cmdline

import (
	"bytes"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/vip"
)

var vipEnvVars = []string{"LBHC_VIP", "LBHC_VIP_INTERFACE", "LBHC_VIP_MODE", "LBHC_GARP_COUNT",
	"LBHC_GARP_INTERVAL", "LBHC_VIP_RECONCILE_INTERVAL"}

func parseVIPFlags(t *testing.T, args []string, env map[string]string) (vip.Config, bool, error) {
	t.Helper()
	for _, k := range vipEnvVars {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var (
		cfg     vip.Config
		enabled bool
		err     error
		ran     bool
	)
	app := &cli.App{
		Name:   "lbhc",
		Flags:  vipFlags(),
		Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{},
		Action: func(c *cli.Context) error {
			ran = true
			cfg, enabled, err = vipConfig(c)
			return nil
		},
	}
	if runErr := app.Run(append([]string{"lbhc"}, args...)); runErr != nil {
		t.Fatalf("app.Run(%q): %v", args, runErr)
	}
	if !ran {
		t.Fatalf("app.Run(%q): action did not run", args)
	}
	return cfg, enabled, err
}

func TestVIPFlags(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		enabled bool
		want    vip.Config
	}{
		{name: "no vip"},
		{
			name:    "repeated and comma-separated",
			args:    []string{"--vip", "10.0.0.5,2001:db8::5", "--vip", "10.0.1.5/32", "--vip-interface", "eth1"},
			enabled: true,
			want: vip.Config{Addrs: []netip.Prefix{pfx("10.0.0.5/32"), pfx("2001:db8::5/128"), pfx("10.0.1.5/32")},
				Interface: "eth1", Mode: vip.ModeNIC, GARPCount: 3, GARPInterval: 200 * time.Millisecond,
				ReconcileInterval: 5 * time.Second},
		},
		{
			name: "environment",
			env: map[string]string{"LBHC_VIP": "10.0.0.5,10.0.0.6", "LBHC_VIP_MODE": "loopback",
				"LBHC_GARP_COUNT": "0", "LBHC_GARP_INTERVAL": "1s", "LBHC_VIP_RECONCILE_INTERVAL": "2s"},
			enabled: true,
			want: vip.Config{Addrs: []netip.Prefix{pfx("10.0.0.5/32"), pfx("10.0.0.6/32")},
				Mode: vip.ModeLoopback, GARPInterval: time.Second, ReconcileInterval: 2 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, enabled, err := parseVIPFlags(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if enabled != tt.enabled || !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("vipConfig = %+v, %v; want %+v, %v", cfg, enabled, tt.want, tt.enabled)
			}
		})
	}
}

func TestVIPFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--vip", "10.0.0.500", "--vip-interface", "eth1"}, `invalid --vip: "10.0.0.500" is not an IP address or address/prefix-length`},
		{[]string{"--vip", "10.0.0.5", "--vip", "10.0.0.5/32", "--vip-interface", "eth1"}, `invalid --vip: 10.0.0.5 listed twice ("10.0.0.5" and "10.0.0.5/32")`},
		{[]string{"--vip", "10.0.0.4/31", "--vip-interface", "eth1"}, `invalid --vip: "10.0.0.4/31": a VIP is one address (/32), not a range`},
		{[]string{"--vip", "10.0.0.5"}, "invalid --vip-interface: required with --vip-mode nic"},
		{[]string{"--vip-interface", "eth1"}, `invalid --vip: no address given, but --vip-interface is set to "eth1"`},
		{[]string{"--vip", "10.0.0.5", "--vip-mode", "bridge"}, `invalid --vip-mode: "bridge" is not one of nic, loopback`},
		{[]string{"--vip", "10.0.0.5", "--vip-mode", "loopback", "--garp-count", "-1"}, "invalid --garp-count: -1 is negative"},
		{[]string{"--vip", "10.0.0.5", "--vip-mode", "loopback", "--garp-interval", "0s"}, "invalid --garp-interval: 0s must be positive when --garp-count is above 1"},
	}
	for _, tt := range tests {
		_, enabled, err := parseVIPFlags(t, tt.args, nil)
		if err == nil || err.Error() != tt.want || exitCode(err) != 2 || enabled {
			t.Errorf("%q: err = %v (exit %d, enabled %v), want %q (exit 2)", tt.args, err, exitCode(err), enabled, tt.want)
		}
	}
}
