//go:build !linux

package vip

import (
	"context"
	"errors"
)

// WatchLink is Linux only: lbhc does not watch the VIP interface's link on
// this platform (Windows' IP Helper NotifyIpInterfaceChange is not wired).
func (m *Manager) WatchLink(context.Context, chan<- bool) error { return errors.ErrUnsupported }
