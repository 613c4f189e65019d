//go:build unix

package cloud

import (
	"errors"
	"os/exec"
	"syscall"
)

// hookCommand runs command with /bin/sh -c in a new process group, so that
// the hook and everything it starts can be killed together.
func hookCommand(command string) (*exec.Cmd, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, nil
}

// hookGroup is the hook's process group; its id is the shell's pid.
type hookGroup struct{ pgid int }

func hookGroupOf(cmd *exec.Cmd) (hookGroup, error) {
	return hookGroup{pgid: cmd.Process.Pid}, nil
}

// kill sends SIGKILL to every process in the group: the timeout has
// already passed, so there is no grace period.
func (g hookGroup) kill(cmd *exec.Cmd) error {
	if g.pgid <= 0 {
		return cmd.Process.Kill()
	}
	if err := syscall.Kill(-g.pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func (hookGroup) release() {}
