package check

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	addr := ln.Addr().String()

	c, err := Parse("tcp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("listening port: %v", err)
	}
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("the listener never saw the check's connection")
	}

	ln.Close() // the port is now closed: connection refused
	err = c.Run(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "connect: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("closed port: err = %v, want connect: … connection refused", err)
	}
}

func TestTCPCheckCancelled(t *testing.T) {
	c, err := Parse("tcp://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx); err == nil {
		t.Fatal("Run with an ended context succeeded")
	}
}
