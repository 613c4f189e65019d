//go:build windows

package cloud

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// hookCommand runs command with cmd.exe /D /S /C (no AutoRun, and cmd's
// documented rule for stripping the outer quotes). The command line is
// passed verbatim so cmd.exe, not Go's argv escaping, parses it.
func hookCommand(command string) (*exec.Cmd, error) {
	shell := os.Getenv("ComSpec")
	if shell == "" {
		shell = filepath.Join(os.Getenv("SystemRoot"), "System32", "cmd.exe")
	}
	cmd := exec.Command(shell)
	cmd.SysProcAttr = &windows.SysProcAttr{
		CmdLine:       `"` + shell + `" /D /S /C "` + command + `"`,
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP,
	}
	return cmd, nil
}

// hookGroup is a job object holding the hook and its children. The
// process is assigned right after it starts; a child started within that
// instant would escape the job (Go's os/exec cannot start suspended).
type hookGroup struct{ job windows.Handle }

func hookGroupOf(cmd *exec.Cmd) (hookGroup, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return hookGroup{}, fmt.Errorf("CreateJobObject: %w", err)
	}
	p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return hookGroup{}, fmt.Errorf("OpenProcess: %w", err)
	}
	defer windows.CloseHandle(p)
	if err := windows.AssignProcessToJobObject(job, p); err != nil {
		windows.CloseHandle(job)
		return hookGroup{}, fmt.Errorf("AssignProcessToJobObject: %w", err)
	}
	return hookGroup{job: job}, nil
}

func (g hookGroup) kill(cmd *exec.Cmd) error {
	if g.job == 0 {
		return cmd.Process.Kill()
	}
	return windows.TerminateJobObject(g.job, 1)
}

// release closes the job handle; processes still in the job keep running
// (no KILL_ON_JOB_CLOSE), matching Unix, where a hook's background children
// survive a hook that exited normally.
func (g hookGroup) release() {
	if g.job != 0 {
		windows.CloseHandle(g.job)
	}
}
