package vip

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkSub is an open subscription to link changes (RTM_NEWLINK/DELLINK).
type linkSub struct {
	ch   chan netlink.LinkUpdate
	done chan struct{}
	errs chan error
}

// subscribeLink opens the subscription in the calling thread's network
// namespace and asks for the current state of every link.
func subscribeLink() (*linkSub, error) {
	s := &linkSub{ch: make(chan netlink.LinkUpdate, 64), done: make(chan struct{}), errs: make(chan error, 1)}
	err := netlink.LinkSubscribeWithOptions(s.ch, s.done, netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case s.errs <- err:
			default:
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("vip: subscribing to link changes: %w", err)
	}
	return s, nil
}

// WatchLink sends the link state of the VIP interface (true = up: IFF_UP
// and carrier) when first known and on every change, until ctx ends or the
// subscription fails. Linux only (netlink); elsewhere it returns
// errors.ErrUnsupported.
func (m *Manager) WatchLink(ctx context.Context, out chan<- bool) error {
	s, err := subscribeLink()
	if err != nil {
		return err
	}
	return m.linkLoop(ctx, s, out)
}

func (m *Manager) linkLoop(ctx context.Context, s *linkSub, out chan<- bool) error {
	defer close(s.done)
	known, last := false, false
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.errs:
			return fmt.Errorf("vip: link subscription: %w", err)
		case u, ok := <-s.ch:
			if !ok {
				return errors.New("vip: link subscription closed")
			}
			a := u.Attrs()
			if a == nil || !m.isVIPLink(a.Name, a.Index) {
				continue
			}
			up := linkUp(a.Flags&net.FlagUp != 0, a.RawFlags&unix.IFF_LOWER_UP != 0, u.Header.Type == unix.RTM_DELLINK)
			if known && up == last {
				continue
			}
			known, last = true, up
			select {
			case out <- up:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

func (m *Manager) isVIPLink(name string, index int) bool {
	_, err := findLink([]link{{Name: name, Index: index}}, m.cfg.Interface, m.matchIndex, m.foldCase)
	return err == nil
}
