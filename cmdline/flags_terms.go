package cmdline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lbhc/lbhc/election"
)

// makeStateLeaseDir creates the directory of a lease file that lies in the
// state dir (lbhc owns that tree). A lease file elsewhere must be in a
// directory that exists: a mistyped path must not make a node lead alone
// on a file of its own.
func makeStateLeaseDir(stateDir, leaseFile string) error {
	if stateDir == "" || !within(stateDir, leaseFile) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(leaseFile), 0o700); err != nil {
		return flagErr("state-dir", "cannot create %s: %v", filepath.Dir(leaseFile), err)
	}
	return nil
}

// within reports whether path lies inside dir (lexically).
func within(dir, path string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// keepTerms gives a CAS-record backend its term file in the state dir, so
// the term never goes back even when the lease record is deleted.
func keepTerms(stateDir, leaseName string, b election.Backend) error {
	if stateDir == "" {
		return nil
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return flagErr("state-dir", "cannot create %s: %v", stateDir, err)
	}
	f, err := election.LoadTermFile(election.TermFilePath(stateDir, leaseName))
	if err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	election.KeepTerms(b, f)
	return nil
}
