package itest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// terminate asks the process to exit (SIGTERM).
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// stopTimeout bounds the wait for every thread of a paused process to stop.
const stopTimeout = 2 * time.Second

// pauseProcess freezes the process (SIGSTOP) and waits until all its threads
// have stopped: the signal is delivered asynchronously, and a thread still
// running on another CPU could answer one more request after kill returns.
func pauseProcess(p *os.Process) error {
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	deadline := time.Now().Add(stopTimeout)
	for {
		stopped, err := allThreadsStopped(p.Pid)
		if err != nil || stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d not stopped %v after SIGSTOP", p.Pid, stopTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// allThreadsStopped reads each thread's state from /proc/PID/task/*/stat.
func allThreadsStopped(pid int) (bool, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false, fmt.Errorf("pid %d: no threads in /proc (%v)", pid, err)
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		if st := procState(b); st != 'T' && st != 't' {
			return false, nil
		}
	}
	return true, nil
}

// procState is the state letter of a /proc stat line: "pid (comm) S ...";
// comm may contain spaces and parentheses, so it is found after the last ')'.
func procState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// resumeProcess continues a frozen process (SIGCONT).
func resumeProcess(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
