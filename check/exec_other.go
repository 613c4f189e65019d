//go:build !unix

package check

import "os/exec"

// prepareCmd keeps os/exec's default: on timeout the command's process is
// killed (children it started are not tracked on this platform).
func prepareCmd(*exec.Cmd) {}
