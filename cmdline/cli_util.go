package cmdline

import (
	"errors"
	"strings"

	"github.com/lbhc/lbhc/configerr"
)

// envs returns the environment variable that mirrors a run flag:
// --lease-ttl ↔ LBHC_LEASE_TTL (README, "Flags and environment").
func envs(flag string) []string {
	return []string{"LBHC_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// usageError is invalid configuration: lbhc exits 2 and prints one line
// naming the flag. It is the parts' configuration error type.
type usageError = configerr.Error

// flagErr builds a usageError for --flag.
var flagErr = configerr.New

// exitCode maps an error to lbhc's exit codes: 0 ok, 2 bad configuration
// (any error in the chain with ExitCode() == 2, whichever package made it),
// 1 runtime failure.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}
