package opscheck

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shipped lists every file lbhc ships that names flags or LBHC_* variables,
// with its parser and the least each must yield (so a parser that finds
// nothing cannot pass).
var shipped = []struct {
	path     string
	parse    func([]byte) (Uses, error)
	minArgv  int
	minEnv   int
	wantArgv string // first command line, joined by spaces
}{
	{"systemd/lbhc.service", SystemdUses, 1, 1, "run"},
	{"systemd/lbhc@.service", SystemdUses, 1, 1, "run"},
	{"systemd/lbhc.env.example", EnvFileUses, 0, 40, ""},
	{"packaging/Dockerfile", DockerfileUses, 1, 0, "run"},
	{"packaging/compose.yaml", ComposeUses, 1, 5, "run"},
	{"packaging/kubernetes/daemonset.yaml", KubernetesUses, 1, 5, "run"},
	{"packaging/windows/install.ps1", EnvFileUses, 0, 5, ""},
}

func TestShippedFilesMatchBinary(t *testing.T) {
	b, err := LoadBinary(lbhcBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range shipped {
		u, err := f.parse(read(t, f.path))
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if len(u.Argv) < f.minArgv || len(u.Env) < f.minEnv {
			t.Errorf("%s: found %d command lines and %d variables, want at least %d and %d", f.path, len(u.Argv), len(u.Env), f.minArgv, f.minEnv)
			continue
		}
		if f.wantArgv != "" && strings.Join(u.Argv[0], " ") != f.wantArgv {
			t.Errorf("%s: command line %q, want %q", f.path, u.Argv[0], f.wantArgv)
		}
		for _, argv := range u.Argv {
			if err := b.CheckArgv(argv); err != nil {
				t.Errorf("%s: %q: %v", f.path, argv, err)
			}
		}
		if err := b.CheckEnv(u.Env); err != nil {
			t.Errorf("%s: %v", f.path, err)
		}
		t.Logf("%s: %d command lines, %d variables", f.path, len(u.Argv), len(u.Env))
	}
}

// TestShippedCheckCatchesStaleNames: a flag or variable the binary does not
// know is reported in each format.
func TestShippedCheckCatchesStaleNames(t *testing.T) {
	b, err := LoadBinary(lbhcBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		parse func([]byte) (Uses, error)
		in    string
	}{
		{SystemdUses, "[Service]\nExecStart=/usr/bin/lbhc run --lease-tll 5s\nEnvironment=LBHC_LEASE_TLL=5s\n"},
		{EnvFileUses, "#LBHC_LEASE_TLL=5s\n"},
		{DockerfileUses, "FROM scratch\nENV LBHC_LEASE_TLL=5s\nENTRYPOINT [\"/usr/bin/lbhc\"]\nCMD [\"run\", \"--lease-tll=5s\"]\n"},
		{ComposeUses, "services:\n  a:\n    command: [run, --lease-tll, 5s]\n    environment:\n      LBHC_LEASE_TLL: 5s\n"},
		{KubernetesUses, "kind: ConfigMap\ndata:\n  LBHC_LEASE_TLL: 5s\n---\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      containers:\n        - args: [run, --lease-tll, 5s]\n"},
	} {
		u, err := tc.parse([]byte(tc.in))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if err := b.CheckEnv(u.Env); err == nil || !strings.Contains(err.Error(), "LBHC_LEASE_TLL") {
			t.Errorf("%q: env check: %v", tc.in, err)
		}
		if strings.Contains(tc.in, "--lease-tll") {
			if len(u.Argv) == 0 {
				t.Errorf("%q: no command line found", tc.in)
			}
			for _, argv := range u.Argv {
				if err := b.CheckArgv(argv); err == nil || !strings.Contains(err.Error(), "--lease-tll") {
					t.Errorf("%q: argv check: %v", tc.in, err)
				}
			}
		}
	}
	if err := b.CheckArgv([]string{"serve"}); err == nil {
		t.Error("unknown command accepted")
	}
	if err := b.CheckArgv([]string{"status", "--json", "--admin-address", "127.0.0.1:1"}); err != nil {
		t.Error(err)
	}
}

// TestCompletionOffersBinaryFlags runs completion/lbhc.bash's function in
// bash against the binary: completing "lbhc run --lease-t" offers
// --lease-ttl, and "lbhc sw" offers switchover.
func TestCompletionOffersBinaryFlags(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		require(t, "bash not found")
	}
	bin := lbhcBinary(t)
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "lbhc")); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		script := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lbhc; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, append([]string{"-c", script, "bash", filepath.Join(root, "completion/lbhc.bash")}, words...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", words, err, out)
		}
		return string(out)
	}
	if got := complete("lbhc", "run", "--lease-t"); strings.TrimSpace(got) != "--lease-ttl" {
		t.Errorf("lbhc run --lease-t: %q", got)
	}
	if got := complete("lbhc", "sw"); strings.TrimSpace(got) != "switchover" {
		t.Errorf("lbhc sw: %q", got)
	}
	zsh := read(t, "completion/lbhc.zsh")
	if !strings.Contains(string(zsh), "--generate-bash-completion") {
		t.Error("completion/lbhc.zsh does not ask the binary for its candidates")
	}
}

// TestReadOnlyRootKeepsStateDir: where a shipped container file makes the
// image's root read-only, the default --state-dir (/var/lib/lbhc, where
// `lbhc standby` writes its flag) must be a writable mount.
func TestReadOnlyRootKeepsStateDir(t *testing.T) {
	const stateDir = "/var/lib/lbhc"
	var compose struct {
		Services map[string]struct {
			ReadOnly bool     `yaml:"read_only"`
			Volumes  []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(read(t, "packaging/compose.yaml"), &compose); err != nil {
		t.Fatal(err)
	}
	for name, s := range compose.Services {
		ok := !s.ReadOnly
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			ok = ok || (len(parts) >= 2 && parts[1] == stateDir && (len(parts) == 2 || !strings.Contains(parts[2], "ro")))
		}
		if !ok {
			t.Errorf("compose.yaml: service %s: read_only without a writable volume at %s", name, stateDir)
		}
	}

	dec := yaml.NewDecoder(bytes.NewReader(read(t, "packaging/kubernetes/daemonset.yaml")))
	checked := 0
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name            string `yaml:"name"`
							SecurityContext struct {
								ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
							} `yaml:"securityContext"`
							VolumeMounts []struct {
								MountPath string `yaml:"mountPath"`
								ReadOnly  bool   `yaml:"readOnly"`
							} `yaml:"volumeMounts"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			checked++
			ok := !c.SecurityContext.ReadOnlyRootFilesystem
			for _, m := range c.VolumeMounts {
				ok = ok || (m.MountPath == stateDir && !m.ReadOnly)
			}
			if !ok {
				t.Errorf("daemonset.yaml: container %s: readOnlyRootFilesystem without a writable mount at %s", c.Name, stateDir)
			}
		}
	}
	if checked == 0 {
		t.Error("daemonset.yaml: no containers found")
	}
}
