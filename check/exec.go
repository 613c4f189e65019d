package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/lbhc/lbhc/childenv"
)

// waitDelay bounds how long a run waits for the output pipes to close after
// the command exited or was killed (a background child may hold them).
const waitDelay = 500 * time.Millisecond

// maxOutput bounds the output kept from one run (bytes); only its last
// non-empty line is reported.
const maxOutput = 4 << 10

// maxLine bounds the output line quoted in an error (bytes).
const maxLine = 256

// execCheck is healthy when the command exits with status 0.
type execCheck struct {
	name string
	path string // resolved when parsed
	args []string
}

func parseExec(spec string) (Check, error) {
	words, err := splitWords(spec[len("exec:"):])
	if err != nil {
		return nil, configErr("check", "%q: %v", spec, err)
	}
	if len(words) == 0 || words[0] == "" {
		return nil, configErr("check", "%q: no command (want exec:/path/to/command args)", spec)
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, exec.ErrNotFound):
			return nil, configErr("check", "%q: command %q not found", spec, words[0])
		case errors.Is(err, fs.ErrPermission):
			return nil, configErr("check", "%q: command %q is not executable", spec, words[0])
		default:
			var ee *exec.Error
			if errors.As(err, &ee) {
				err = ee.Err
			}
			return nil, configErr("check", "%q: command %q: %v", spec, words[0], err)
		}
	}
	return &execCheck{name: spec, path: path, args: words[1:]}, nil
}

func (c *execCheck) Name() string { return c.name }

func (c *execCheck) Run(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, c.path, c.args...)
	// lbhc's LBHC_* configuration, secrets among it, stays out (as for hooks).
	cmd.Env = childenv.Base(os.Environ())
	out := &boundedBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out // same pointer: one pipe, one writer goroutine
	cmd.WaitDelay = waitDelay
	prepareCmd(cmd) // platform: own process group, killed as a whole
	err := cmd.Run()
	if err == nil || (errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success()) {
		return nil
	}
	if line := out.lastLine(); line != "" {
		return fmt.Errorf("%w: %s", err, line)
	}
	return err
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// lastLine is the last non-blank line of the output, cut to maxLine bytes.
func (b *boundedBuffer) lastLine() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(b.buf)), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > maxLine {
		line = line[:maxLine] + "…"
	}
	return line
}
