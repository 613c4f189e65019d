package check

import (
	"errors"
	"strings"
)

// Errors of splitWords; Parse wraps them into a ConfigError.
var (
	errUnterminatedSingle = errors.New("unterminated single quote")
	errUnterminatedDouble = errors.New("unterminated double quote")
	errTrailingBackslash  = errors.New("trailing backslash")
)

// splitWords splits an exec: command line into words the way a POSIX shell
// tokenises a simple command, without running a shell:
//
//   - blanks (space, tab, newline) separate words;
//   - 'single quotes' keep everything literally;
//   - "double quotes" keep everything literally except \" \\ \$ \` and
//     backslash-newline (removed);
//   - outside quotes a backslash takes the next character literally, and
//     backslash-newline is removed;
//   - an empty pair of quotes produces an empty word.
//
// There is no expansion of any kind: $VAR, ~, *, |, ;, > and & are ordinary
// characters. Use exec:/bin/sh -c '…' when a check needs shell features.
func splitWords(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool // cur holds a word, possibly empty ('' or "")
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n':
			flush()
		case '\\':
			if i+1 >= len(s) {
				return nil, errTrailingBackslash
			}
			i++
			if s[i] == '\n' {
				continue // line continuation
			}
			cur.WriteByte(s[i])
			inWord = true
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errUnterminatedSingle
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case '"':
			i++
			closed := false
			for ; i < len(s); i++ {
				d := s[i]
				if d == '"' {
					closed = true
					break
				}
				if d == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case '"', '\\', '$', '`':
						i++
						d = s[i]
					case '\n':
						i++
						continue
					}
				}
				cur.WriteByte(d)
			}
			if !closed {
				return nil, errUnterminatedDouble
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, nil
}
