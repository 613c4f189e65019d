package configerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	err := fmt.Errorf("building: %w", New("lease-ttl", "must be at least %s", "1s"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Flag != "lease-ttl" || ce.ExitCode() != 2 {
		t.Fatalf("errors.As(%v) = %+v", err, ce)
	}
	if got := ce.Error(); got != "invalid --lease-ttl: must be at least 1s" {
		t.Fatalf("Error() = %q", got)
	}
	if got := (&Error{Msg: "unknown flag --x"}).Error(); got != "unknown flag --x" {
		t.Fatalf("without a flag: %q", got)
	}
}
