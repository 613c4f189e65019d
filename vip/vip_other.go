//go:build !linux && !windows

package vip

import (
	"errors"
	"log/slog"
)

const (
	defaultLoopback   = "lo0"
	interfaceByIndex  = false
	interfaceFoldCase = false
)

// newPlatform: VIP ownership is implemented for Linux and Windows only.
func newPlatform(bool, *slog.Logger) (platform, error) { return nil, errors.ErrUnsupported }
