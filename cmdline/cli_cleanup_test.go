package cmdline

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestCleanupRefusesWhileAnAgentRuns(t *testing.T) {
	dir := t.TempDir()
	unlock, err := holdRunLock(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// 192.0.2.0/24 is TEST-NET-1: whatever happens, no real address of the
	// test host is touched.
	err, code, _ := runApp(t, "cleanup", "--state-dir", dir, "--vip", "192.0.2.123")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("cleanup while the run lock is held: %v (exit %d); want a refusal naming the pid", err, code)
	}
	unlock()
	err, code, out := runApp(t, "cleanup", "--state-dir", dir, "--vip", "192.0.2.123")
	if code != 0 || strings.TrimSpace(out) != "nothing to remove" {
		t.Fatalf("cleanup with nothing there: %v (exit %d) %q", err, code, out)
	}
	// A state dir that never existed: nothing ran, nothing is created.
	missing := dir + "/never"
	if err, code, _ := runApp(t, "cleanup", "--state-dir", missing, "--vip", "192.0.2.123"); code != 0 {
		t.Fatalf("cleanup without a state dir: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("cleanup created the state dir")
	}
}

func TestCleanupBadVIPExits2(t *testing.T) {
	err, code, _ := runApp(t, "cleanup", "--state-dir", t.TempDir(), "--vip", "not-an-ip")
	if code != 2 || !strings.HasPrefix(err.Error(), "invalid --vip: ") {
		t.Fatalf("cleanup --vip not-an-ip: %v (exit %d)", err, code)
	}
}

func TestRunRefusesASecondAgentOnTheSameStateDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := holdRunLock(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no need to wait runLockWait: a cancelled wait ends at once
	if _, err := holdRunLock(ctx, dir); err == nil {
		t.Fatal("second run lock on the same state dir granted")
	}
}
