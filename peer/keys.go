package peer

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/lbhc/lbhc/configerr"
)

const (
	// MinKeyLen is the shortest key accepted (bytes): 256 bits, the
	// strength of HMAC-SHA256.
	MinKeyLen = 32
	// maxKeyFile bounds what LoadKeys reads (bytes): two keys and some
	// comments fit many times over.
	maxKeyFile = 64 << 10
	keyFlag    = "peer-key-file"
)

// LoadKeys reads the shared key file: one key per line (surrounding
// blanks trimmed), blank lines and lines starting with # ignored, one or two
// keys of at least MinKeyLen bytes. The first key signs, every key
// verifies, so a rotation adds the new key as the second line everywhere,
// then swaps the lines, then drops the old one. The file must not be
// readable or writable by group or others (Unix mode bits; on Windows the
// ACLs, which the installer sets, decide). Errors name --peer-key-file and
// never contain key bytes.
func LoadKeys(path string) ([][]byte, error) {
	if path == "" {
		return nil, configerr.New(keyFlag, "must not be empty")
	}
	// Stat before opening: opening a FIFO would block until a writer came.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, configerr.New(keyFlag, "%v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, configerr.New(keyFlag, "%s is not a regular file", path)
	}
	if err := checkKeyFileMode(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, configerr.New(keyFlag, "%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, configerr.New(keyFlag, "%s: %v", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, configerr.New(keyFlag, "%s is larger than %d bytes", path, maxKeyFile)
	}
	keys, err := parseKeys(data)
	if err != nil {
		return nil, configerr.New(keyFlag, "%s: %v", path, err)
	}
	return keys, nil
}

// parseKeys is the key file's syntax, without the file.
func parseKeys(data []byte) ([][]byte, error) {
	var keys [][]byte
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if len(line) < MinKeyLen {
			return nil, fmt.Errorf("line %d: the key is %d bytes, want at least %d (e.g. openssl rand -base64 48)", i+1, len(line), MinKeyLen)
		}
		keys = append(keys, bytes.Clone(line))
	}
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("no key (one key per line; blank lines and # comments are ignored)")
	case len(keys) > 2:
		return nil, fmt.Errorf("%d keys, want 1 or 2 (the first signs, both verify: two only during a rotation)", len(keys))
	}
	return keys, nil
}
