//go:build !unix && !windows

package cloud

import (
	"errors"
	"fmt"
	"os/exec"
)

func hookCommand(string) (*exec.Cmd, error) {
	return nil, fmt.Errorf("running hooks: %w", errors.ErrUnsupported)
}

type hookGroup struct{}

func hookGroupOf(*exec.Cmd) (hookGroup, error) { return hookGroup{}, errors.ErrUnsupported }

func (hookGroup) kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func (hookGroup) release() {}
