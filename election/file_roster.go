package election

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The file store's roster is a directory beside the lease file,
// <lease-file>.nodes/, with one small file per node: "<seq> <delay-ns>".
// Each node writes only its own file (temp file + rename, so readers never
// see a torn one); nothing is locked and the lease record is not touched.

func (s *FileStore) rosterDir() string { return s.path + ".nodes" }

// Announce writes this node's announcement.
func (s *FileStore) Announce(ctx context.Context, a Announcement) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := s.rosterDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "%d %d\n", a.Seq, int64(a.Delay))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	// Node ids are free text: escape them into one path element.
	if err := os.Rename(tmp.Name(), filepath.Join(dir, url.PathEscape(a.Node))); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	return nil
}

// Members reads every node's announcement. Unreadable or malformed entries
// are skipped: they only make the leader know less.
func (s *FileStore) Members(ctx context.Context) ([]Announcement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.rosterDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	var out []Announcement
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		node, err := url.PathUnescape(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.rosterDir(), e.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			continue
		}
		seq, err1 := strconv.ParseUint(f[0], 10, 64)
		delay, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Announcement{Node: node, Seq: seq, Delay: time.Duration(delay)})
	}
	return out, nil
}
