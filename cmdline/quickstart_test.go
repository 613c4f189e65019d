//go:build unix

package cmdline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	quickstartBegin = "<!-- quickstart:begin (run by quickstart_test.go) -->"
	quickstartEnd   = "<!-- quickstart:end -->"
)

// quickstartLines returns the shell lines of the README's Quick start block.
func quickstartLines(readme string) ([]string, error) {
	i, j := strings.Index(readme, quickstartBegin), strings.Index(readme, quickstartEnd)
	if i < 0 || j < i {
		return nil, fmt.Errorf("README.md lacks the %q ... %q markers", quickstartBegin, quickstartEnd)
	}
	block := strings.TrimSpace(readme[i+len(quickstartBegin) : j])
	if !strings.HasPrefix(block, "```sh\n") || !strings.HasSuffix(block, "\n```") {
		return nil, errors.New("the Quick start markers must enclose exactly one ```sh block")
	}
	block = strings.TrimSuffix(strings.TrimPrefix(block, "```sh\n"), "\n```")
	return strings.Split(block, "\n"), nil
}

// quickstartScript turns the README lines into the bash script the test
// runs. Every README line is kept byte for byte, in order; the test only
// adds checks between them: that each node started in the background is
// still running when the block stops them (a node with a wrong flag exits 2
// at once, which a background job would otherwise hide), and that each
// stops cleanly.
func quickstartScript(lines []string) (string, int, error) {
	var b strings.Builder
	b.WriteString("set -e\npids=()\n")
	nodes, killed := 0, false
	for _, l := range lines {
		if strings.HasPrefix(l, "kill ") {
			b.WriteString(`for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { wait "$p" && rc=0 || rc=$?; echo "quickstart: node (pid $p) exited early with status $rc" >&2; exit 1; }; done` + "\n")
			b.WriteString(l + "\n")
			b.WriteString(`for p in "${pids[@]}"; do wait "$p" || { rc=$?; echo "quickstart: node (pid $p) exited with status $rc after kill" >&2; exit 1; }; done` + "\n")
			killed = true
			continue
		}
		b.WriteString(l + "\n")
		if strings.HasPrefix(l, "./lbhc run ") && strings.HasSuffix(l, "&") {
			b.WriteString("pids+=($!)\n")
			nodes++
		}
	}
	if nodes != 3 || !killed {
		return "", 0, fmt.Errorf("the Quick start should start three nodes in the background (./lbhc run ... &) and stop them with kill; found %d nodes, kill line %v", nodes, killed)
	}
	return b.String(), nodes, nil
}

// TestQuickStart runs the README's Quick start exactly as printed, in a
// copy of the repository (it builds ./lbhc and writes demo/ there), with a
// bound on the whole run; the process group is killed at the end whatever
// happens. It fails when a README command has a wrong flag, a node does not
// come up, or an answer is not what the README says.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes for ~15 s; run without -short")
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := quickstartLines(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	script, _, err := quickstartScript(lines)
	if err != nil {
		t.Fatal(err)
	}
	// The block uses fixed ports, as a person would: they must be free.
	for _, m := range regexp.MustCompile(`--(?:admin-address 127\.0\.0\.1:|probe-port )(\d+)`).FindAllStringSubmatch(script, -1) {
		ln, err := net.Listen("tcp", "127.0.0.1:"+m[1])
		if err != nil {
			t.Fatalf("port %s, used by the Quick start, is busy (another lbhc?): %v", m[1], err)
		}
		ln.Close()
	}
	dir := t.TempDir()
	if err := copyTree(repoRoot, dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = personEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever is left of the group
	}
	logs := nodeLogs(dir)
	if err != nil {
		t.Fatalf("Quick start failed (%v):\n%s\n%s", err, out.String(), logs)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^node a is leader \(term 1, election file\)$`),
		regexp.MustCompile(`(?m)^probe: tcp \[26001\] open, no probe yet$`),
		regexp.MustCompile(`(?m)^leadership moved to [bc]$`),
		regexp.MustCompile(`(?m)^standby: not campaigning until 'lbhc resume'$`),
		regexp.MustCompile(`(?m)^node a is standby \(term 2, election file\)$`),
		regexp.MustCompile(`(?m)^resumed: campaigning$`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("Quick start output lacks %s:\n%s\n%s", want, out.String(), logs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "demo", "a", "standby")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after resume demo/a/standby should be gone: %v", err)
	}
}

// personEnv is the test's environment without LBHC_ settings, which a
// person pasting the Quick start would not have.
func personEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LBHC_") {
			env = append(env, kv)
		}
	}
	return env
}

func nodeLogs(dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "demo", "*.log"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(f), raw)
	}
	return b.String()
}

// copyTree copies the repository's files (not .git, build output or a
// demo left behind) from src into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			switch rel {
			case ".git", ".cache", "dist", "demo":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || rel == "lbhc" {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
