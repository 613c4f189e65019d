package cmdline

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Values that testdata/invalid cannot hold (control characters, files
// with a given mode) exit 2 naming their flag, with the exact message.
func TestHardeningInvalidValues(t *testing.T) {
	state := t.TempDir()
	t.Setenv("LBHC_STATE_DIR", state)
	t.Setenv("LBHC_ADMIN_ADDRESS", "127.0.0.1:1")
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.token")
	if err := os.WriteFile(loose, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o666); err != nil {
		t.Fatal(err)
	}
	groupW := filepath.Join(dir, "group.token")
	if err := os.WriteFile(groupW, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(groupW, 0o620); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--node-id", "a\r\nX-Evil: 1"}, `invalid --node-id: "a\r\nX-Evil: 1" must not contain control characters`},
		{[]string{"run", "--node-id", "a\tb"}, `invalid --node-id: "a\tb" must not contain control characters`},
		{[]string{"run", "--lease-name", "a\nb"}, `invalid --lease-name: "a\nb" must not contain control characters`},
		{[]string{"run", "--admin-token-file", loose}, "invalid --admin-token-file: " + loose + " is writable by group or others (mode 0666): chmod go-w it"},
		{[]string{"run", "--admin-token-file", groupW}, "invalid --admin-token-file: " + groupW + " is writable by group or others (mode 0620): chmod go-w it"},
		{[]string{"run", "--admin-token-file", dir}, "invalid --admin-token-file: " + dir + " is not a regular file"},
		{[]string{"standby", "--admin-token-file", loose}, "invalid --admin-token-file: " + loose + " is writable by group or others (mode 0666): chmod go-w it"},
	} {
		err, code, _ := runApp(t, tc.args...)
		if err == nil || code != 2 || err.Error() != tc.want {
			t.Errorf("lbhc %q: %v (exit %d)\n want %q (exit 2)", tc.args, err, code, tc.want)
		}
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Fatalf("invalid runs left files in the state dir: %v", entries)
	}
}

// An etcd password in an endpoint URL appears in no output: not in the
// error, not on stdout or stderr.
func TestEtcdURLPasswordNeverPrinted(t *testing.T) {
	t.Setenv("LBHC_STATE_DIR", t.TempDir())
	for _, eps := range []string{
		"https://root:s3cr3t@127.0.0.1:2379",
		"http://127.0.0.1:1,http://root:s3cr3t@127.0.0.1:2",
		"http://root:s3cr3t@127.0.0.1:2/v3",
		"root:s3cr3t@127.0.0.1:2379",
	} {
		app := newApp()
		var out, errOut strings.Builder
		app.Writer, app.ErrWriter = &out, &errOut
		err := app.Run([]string{"lbhc", "run", "--election", "etcd", "--etcd-endpoints", eps, "--admin-address", "127.0.0.1:0"})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--etcd-endpoints") {
			t.Errorf("%s: %v (exit %d); want exit 2 naming --etcd-endpoints", eps, err, exitCode(err))
		}
		for _, s := range []string{err.Error(), out.String(), errOut.String()} {
			if strings.Contains(s, "s3cr3t") {
				t.Errorf("%s: the password appears in %q", eps, s)
			}
		}
	}
}

func TestCheckProbeAddressLocal(t *testing.T) {
	for _, tc := range []struct {
		addr string
		vips []string
		ok   bool
	}{
		{"", nil, true},
		{"127.0.0.1", nil, true},
		{"::1", nil, true},
		{"0.0.0.0", nil, true},
		{"192.0.2.77", nil, false},
		{"192.0.2.77", []string{"192.0.2.77/32"}, true},
		{"2001:db8::77", []string{"192.0.2.77/32"}, false},
	} {
		var vips []netip.Prefix
		for _, v := range tc.vips {
			vips = append(vips, netip.MustParsePrefix(v))
		}
		err := checkProbeAddressLocal(tc.addr, vips)
		if (err == nil) != tc.ok || (err != nil && exitCode(err) != 2) {
			t.Errorf("checkProbeAddressLocal(%q, %v) = %v; want ok=%v", tc.addr, tc.vips, err, tc.ok)
		}
	}
}

func TestCheckProbeVsAdmin(t *testing.T) {
	for _, tc := range []struct {
		probe string
		ports []int
		admin string
		want  string
	}{
		{"", []int{26001}, "127.0.0.1:9102", ""},
		{"", []int{26001, 9102}, "127.0.0.1:9102", "invalid --probe-port: 9102 is the admin API's port (--admin-address 127.0.0.1:9102)"},
		{"10.0.0.5", []int{9102}, "127.0.0.1:9102", ""},
		{"10.0.0.5", []int{9102}, "0.0.0.0:9102", "invalid --probe-port: 9102 is the admin API's port (--admin-address 0.0.0.0:9102)"},
		{"10.0.0.5", []int{9102}, ":9102", "invalid --probe-port: 9102 is the admin API's port (--admin-address :9102)"},
		{"127.0.0.1", []int{9102}, "127.0.0.1:9102", "invalid --probe-port: 9102 is the admin API's port (--admin-address 127.0.0.1:9102)"},
		{"", []int{0}, "127.0.0.1:0", ""},
	} {
		err := checkProbeVsAdmin(tc.probe, tc.ports, tc.admin)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("checkProbeVsAdmin(%q, %v, %q) = %q; want %q", tc.probe, tc.ports, tc.admin, got, tc.want)
		}
	}
}
