//go:build windows

package cmdline

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name, in string
		want     [][2]string
		err      string
	}{
		{name: "empty", in: "", want: nil},
		{name: "comments and blanks", in: "\ufeff# c\n\n; c\n  \nLBHC_VIP=10.0.0.5\r\n", want: [][2]string{{"LBHC_VIP", "10.0.0.5"}}},
		{name: "quotes and spaces", in: "A = \"x y\"\nB='z'\nC=\"unbalanced\nD=", want: [][2]string{{"A", "x y"}, {"B", "z"}, {"C", "\"unbalanced"}, {"D", ""}}},
		{name: "value with =", in: "AZURE_STORAGE_CONNECTION_STRING=a=b;c=d", want: [][2]string{{"AZURE_STORAGE_CONNECTION_STRING", "a=b;c=d"}}},
		{name: "no equals", in: "A=1\nexport B\n", err: "line 2: want NAME=value"},
		{name: "bad name", in: "1A=2", err: `line 1: invalid variable name "1A"`},
		{name: "export prefix", in: "export A=2", err: `line 1: invalid variable name "export A"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnvFile(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSlogLevelAndForwardLines(t *testing.T) {
	in := "time=2026-01-01T00:00:00Z level=ERROR msg=\"promote failed\"\r\n" +
		"{\"time\":\"x\",\"level\":\"WARN\",\"msg\":\"renew slow\"}\n\n" +
		"level=INFO msg=leader\n" +
		"panic: no level here\n" +
		"time=x level=WARN+2 msg=y\n"
	type ev struct{ level, line string }
	var got []ev
	forwardLines(strings.NewReader(in), func(l, s string) { got = append(got, ev{l, s}) })
	want := []ev{
		{"ERROR", "time=2026-01-01T00:00:00Z level=ERROR msg=\"promote failed\""},
		{"WARN", "{\"time\":\"x\",\"level\":\"WARN\",\"msg\":\"renew slow\"}"},
		{"INFO", "level=INFO msg=leader"},
		{"", "panic: no level here"},
		{"WARN", "time=x level=WARN+2 msg=y"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	got = nil
	forwardLines(strings.NewReader(strings.Repeat("x", 40*1024)+"\nlevel=INFO msg=after\n"), func(l, s string) { got = append(got, ev{l, s}) })
	if len(got) == 0 || got[0].line != "(log line longer than 32 KiB dropped)" {
		t.Fatalf("long line: got %q", got)
	}
}

func TestServiceFlagValidation(t *testing.T) {
	for _, tt := range []struct{ name, err string }{
		{"lbhc", ""},
		{"lbhc-web.1", ""},
		{"", `invalid --name: "": use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		{"a b", `invalid --name: "a b": use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit`},
	} {
		err := checkServiceName(tt.name)
		if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("checkServiceName(%q) = %v, want %q", tt.name, err, tt.err)
		}
		if err != nil && exitCode(err) != 2 {
			t.Errorf("checkServiceName(%q): exit code %d, want 2", tt.name, exitCode(err))
		}
	}
	if _, err := parseStartType("boot"); err == nil || err.Error() != `invalid --start: "boot" is not one of auto, manual, disabled` {
		t.Errorf("parseStartType(boot) = %v", err)
	}
}

// TestServiceHandler drives Execute the way the SCM does: Running is
// reported, Stop cancels the run context, the exit code follows the error.
func TestServiceHandler(t *testing.T) {
	for _, tt := range []struct {
		name    string
		stop    bool
		runErr  error
		wantSS  bool
		wantErr uint32
	}{
		{name: "stop cancels", stop: true, runErr: nil},
		{name: "stop with context error", stop: true, runErr: context.Canceled},
		{name: "runtime failure", runErr: errors.New("boom"), wantSS: true, wantErr: 1},
		{name: "config error", runErr: flagErr("vip", "bad"), wantSS: true, wantErr: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &serviceHandler{run: func(ctx context.Context) error {
				if tt.stop {
					<-ctx.Done()
				}
				return tt.runErr
			}}
			reqs := make(chan svc.ChangeRequest)
			status := make(chan svc.Status, 10)
			type result struct {
				ss   bool
				code uint32
			}
			res := make(chan result, 1)
			go func() { ss, code := h.Execute(nil, reqs, status); res <- result{ss, code} }()
			if s := <-status; s.State != svc.StartPending {
				t.Fatalf("first status %v, want StartPending", s.State)
			}
			if s := <-status; s.State != svc.Running || s.Accepts&svc.AcceptStop == 0 {
				t.Fatalf("second status %+v, want Running accepting Stop", s)
			}
			if tt.stop {
				reqs <- svc.ChangeRequest{Cmd: svc.Stop}
			}
			select {
			case r := <-res:
				if r.ss != tt.wantSS || r.code != tt.wantErr {
					t.Fatalf("Execute = (%v, %d), want (%v, %d)", r.ss, r.code, tt.wantSS, tt.wantErr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Execute did not return")
			}
		})
	}
}

func TestOptionalServiceConfig(t *testing.T) {
	var w strings.Builder
	if err := optionalServiceConfig(&w, "x", nil); err != nil || w.Len() != 0 {
		t.Fatalf("nil error: %v, output %q", err, w.String())
	}
	// Wine 8's SCM: the information level is unknown, the service works
	// without the setting.
	if err := optionalServiceConfig(&w, "delayed automatic start", windows.ERROR_INVALID_LEVEL); err != nil {
		t.Fatalf("ERROR_INVALID_LEVEL: %v, want a warning only", err)
	}
	if !strings.Contains(w.String(), "warning") || !strings.Contains(w.String(), "delayed automatic start") {
		t.Errorf("warning %q does not name the setting", w.String())
	}
	err := optionalServiceConfig(&w, "delayed automatic start", windows.ERROR_ACCESS_DENIED)
	if !errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		t.Errorf("ERROR_ACCESS_DENIED: %v, want it returned", err)
	}
}
