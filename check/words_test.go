package check

import (
	"errors"
	"slices"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{in: "", want: nil},
		{in: "  \t ", want: nil},
		{in: "/bin/check", want: []string{"/bin/check"}},
		{in: " /bin/check  -v\t--port 5432 ", want: []string{"/bin/check", "-v", "--port", "5432"}},
		{in: `/x 'a b' "c d"`, want: []string{"/x", "a b", "c d"}},
		{in: `/x '' ""`, want: []string{"/x", "", ""}},
		{in: `/x a'b c'd`, want: []string{"/x", "ab cd"}},
		{in: `/x 'it''s'`, want: []string{"/x", "its"}},
		{in: `/x "it's"`, want: []string{"/x", "it's"}},
		{in: `/x 'say "hi"'`, want: []string{"/x", `say "hi"`}},
		{in: `/x "a \"q\" \\ \$ \` + "`" + ` \n"`, want: []string{"/x", "a \"q\" \\ $ ` \\n"}},
		{in: `/x a\ b \'c`, want: []string{"/x", "a b", "'c"}},
		{in: "/x a\\\nb", want: []string{"/x", "ab"}},
		{in: "/x \"a\\\nb\"", want: []string{"/x", "ab"}},
		{in: `/x 'a\b'`, want: []string{"/x", `a\b`}},
		{in: `/x $HOME ~ * | ; > &`, want: []string{"/x", "$HOME", "~", "*", "|", ";", ">", "&"}},
		{in: `/x 'open`, err: errUnterminatedSingle},
		{in: `/x "open`, err: errUnterminatedDouble},
		{in: `/x "open\"`, err: errUnterminatedDouble},
		{in: `/x a\`, err: errTrailingBackslash},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("splitWords(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("splitWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
