//go:build windows

package cmdline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/eventlog"
)

// stderrToEventLog points os.Stderr and the process's standard error handle
// at a pipe whose lines are written to the event log, with the level taken
// from slog's text (level=ERROR) or JSON ("level":"ERROR") output. stop
// restores nothing (the process is ending) but flushes the pending lines.
func stderrToEventLog(elog *eventlog.Log) (stop func(), err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	if err := windows.SetStdHandle(windows.STD_ERROR_HANDLE, windows.Handle(w.Fd())); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("redirecting stderr: %w", err)
	}
	os.Stderr = w
	done := make(chan struct{})
	go func() {
		defer close(done)
		forwardLines(r, func(level, line string) {
			switch level {
			case "ERROR":
				_ = elog.Error(1, line)
			case "WARN":
				_ = elog.Warning(1, line)
			default:
				_ = elog.Info(1, line)
			}
		})
	}()
	return func() {
		w.Close()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		r.Close()
	}, nil
}

// forwardLines calls emit for every line read from r with the slog level
// found in it ("" if none). Lines longer than 32 KiB (the event log's limit
// is 31,839 characters) are split.
func forwardLines(r io.Reader, emit func(level, line string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 32*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		emit(slogLevel(line), line)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		emit("", "(log line longer than 32 KiB dropped)")
		forwardLines(r, emit)
	}
}

var slogLevelRE = regexp.MustCompile(`(?:^|\s)level=([A-Z]+)|"level":"([A-Z]+)`)

// slogLevel returns DEBUG, INFO, WARN or ERROR as written by slog's text or
// JSON handler (levels like WARN+2 count as WARN), or "".
func slogLevel(line string) string {
	m := slogLevelRE.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}
