//go:build unix

package check

import (
	"os/exec"
	"syscall"
)

// prepareCmd starts the command in its own process group so that a timeout
// kills the script and everything it started (a hung curl, a sleep), not
// only the shell.
func prepareCmd(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Negative pid: the whole group, whose id is the leader's pid.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
