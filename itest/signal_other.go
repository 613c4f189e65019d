//go:build !linux

package itest

import (
	"errors"
	"os"
)

// terminate has no graceful signal to send here: it kills the process.
func terminate(p *os.Process) error { return p.Kill() }

// pauseProcess: freezing a process is only implemented on Linux.
func pauseProcess(*os.Process) error { return errors.ErrUnsupported }

// resumeProcess: freezing a process is only implemented on Linux.
func resumeProcess(*os.Process) error { return errors.ErrUnsupported }
