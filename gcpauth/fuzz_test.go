package gcpauth

import (
	"testing"
	"time"
)

// FuzzParseToken: any token endpoint answer is a usable token or an error,
// and a token's expiry is never in the past of the request nor absurdly far.
func FuzzParseToken(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}`))
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"Bad Request"}`))
	f.Add(200, []byte(`{"access_token":"","expires_in":-1}`))
	f.Add(200, []byte(`{"access_token":"a","expires_in":9223372036854775807,"token_type":"mac"}`))
	f.Add(500, []byte(`<html>`))
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, status int, b []byte) {
		tok, err := parseToken(status, b, now)
		if err != nil {
			return
		}
		if status != 200 || tok.value == "" {
			t.Fatalf("accepted status %d token %q", status, tok.value)
		}
		if !tok.expiry.IsZero() && (!tok.expiry.After(now) || tok.expiry.Sub(now) > maxExpiresIn*time.Second) {
			t.Fatalf("expiry %v for now %v", tok.expiry, now)
		}
	})
}
