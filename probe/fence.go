// The Server's side of the kernel fence: keeping the eBPF filter's deadline
// in step with the lease (the filter itself is in fence_linux.go).

package probe

import (
	"errors"
	"fmt"
	"time"
)

// deadlineFence enforces the leadership deadline below the process (the
// eBPF socket filter on Linux, fence_linux.go).
type deadlineFence interface {
	set(deadline time.Time) error
	close()
}

// startFence sets the kernel fence to the current deadline before the
// listener opens; DeadlineMoved keeps it in step with renewals.
func (s *Server) startFence(deadline func() time.Time) error {
	if deadline == nil {
		far := time.Now().Add(100 * 365 * 24 * time.Hour)
		deadline = func() time.Time { return far }
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	if s.fenceClosed {
		return errors.New("kernel fence: the probe server is closed")
	}
	if err := s.fence.set(deadline()); err != nil {
		s.fenceDeadline = nil
		return fmt.Errorf("kernel fence: %w", err)
	}
	s.fenceDeadline = deadline
	return nil
}

// DeadlineMoved copies Lead's deadline into the kernel fence. The lease
// calls it when a renewal moves the deadline (election.Lease.OnExtend), so
// an idle leader wakes for the fence only when a renewal lands, not on a
// timer. A late or missed call only ends the kernel's acceptance earlier,
// never later. It does nothing when not leading or without the fence.
func (s *Server) DeadlineMoved() {
	if s.fence == nil {
		return
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	if s.fenceDeadline == nil {
		return
	}
	if err := s.fence.set(s.fenceDeadline()); err != nil {
		s.log.Warn("kernel fence update failed", "err", err)
	}
}

// stopFence closes the fence: from now on the kernel drops probe packets.
func (s *Server) stopFence() {
	if s.fence == nil {
		return
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	s.fenceDeadline = nil
	if s.fenceClosed {
		return
	}
	if err := s.fence.set(time.Time{}); err != nil {
		s.log.Warn("kernel fence close failed", "err", err)
	}
}

// closeFence releases the fence's program and map descriptors. The
// listeners that carried the filter are closed by then; a descriptor number
// used after this could belong to another file, hence fenceClosed.
func (s *Server) closeFence() {
	if s.fence == nil {
		return
	}
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	if s.fenceClosed {
		return
	}
	s.fenceDeadline = nil
	s.fenceClosed = true
	s.fence.close()
}
