package gcpauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The three credential paths against httptest servers that answer as the
// metadata server and Google's token endpoint do; no request leaves the
// loopback.

// metadataServer answers the default service account's token endpoint,
// requiring the Metadata-Flavor header and the scope.
func metadataServer(t *testing.T, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		if r.URL.Path != metadataTokenPath || r.URL.Query().Get("scopes") != ScopeStorage {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"meta-` + string(rune('0'+calls.Load())) + `","expires_in":3599,"token_type":"Bearer"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestMetadataTokenCachedAndRefreshed(t *testing.T) {
	var calls atomic.Int64
	srv := metadataServer(t, &calls)
	src, err := Find(Config{Scope: ScopeStorage, Getenv: env(map[string]string{"GCE_METADATA_HOST": hostOf(srv)})})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(src.Kind(), "metadata server 127.0.0.1:") {
		t.Fatalf("kind %q", src.Kind())
	}
	now := time.Now()
	src.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if tok, err := src.Token(ctx); err != nil || tok != "meta-1" {
			t.Fatalf("token = %q, %v", tok, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d metadata requests for three tokens, want 1 (cached)", calls.Load())
	}
	// Within refreshEarly of the expiry: a new token.
	now = now.Add(3599*time.Second - refreshEarly + time.Second)
	if tok, err := src.Token(ctx); err != nil || tok != "meta-2" {
		t.Fatalf("token near expiry = %q, %v; want a fresh one", tok, err)
	}
}

func TestMetadataFlavorRequired(t *testing.T) {
	var calls atomic.Int64
	srv := metadataServer(t, &calls)
	// A request without the header is what a proxy or SSRF would send:
	// the fake refuses it as the real server does, and the Source sends it.
	resp, err := http.Get(srv.URL + metadataTokenPath + "?scopes=" + ScopeStorage)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("fake accepted a request without Metadata-Flavor: %d", resp.StatusCode)
	}
	if _, err := Metadata(hostOf(srv), ScopeStorage, http.DefaultClient).Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// tokenEndpoint answers OAuth 2.0 token requests, checking each with check.
func tokenEndpoint(t *testing.T, check func(r *http.Request) string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if msg := check(r); msg != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"` + msg + `"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"ya29.test","expires_in":3600,"token_type":"Bearer"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServiceAccountKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var tokenURL string
	srv := tokenEndpoint(t, func(r *http.Request) string {
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			return "grant_type"
		}
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if len(parts) != 3 {
			return "assertion is not a JWT"
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			return "bad signature"
		}
		var hdr struct{ Alg, Typ, Kid string }
		var claims struct {
			Iss, Scope, Aud string
			Iat, Exp        int64
		}
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		c, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if json.Unmarshal(h, &hdr) != nil || json.Unmarshal(c, &claims) != nil {
			return "undecodable JWT"
		}
		now := time.Now().Unix()
		switch {
		case hdr.Alg != "RS256" || hdr.Typ != "JWT" || hdr.Kid != "kid-1":
			return "header"
		case claims.Iss != "lbhc@p.iam.gserviceaccount.com" || claims.Scope != ScopeStorage || claims.Aud != tokenURL:
			return "claims"
		case claims.Iat > now || claims.Iat < now-60 || claims.Exp-claims.Iat != 3600:
			return "times"
		}
		return ""
	})
	tokenURL = srv.URL + "/token"
	p := writeJSON(t, map[string]string{
		"type": "service_account", "client_email": "lbhc@p.iam.gserviceaccount.com", "private_key_id": "kid-1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": tokenURL,
	})
	src, err := Find(Config{Scope: ScopeStorage, Getenv: env(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": p, "GCE_METADATA_HOST": "127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	if src.Kind() != "service account key "+p {
		t.Fatalf("kind %q", src.Kind())
	}
	if tok, err := src.Token(context.Background()); err != nil || tok != "ya29.test" {
		t.Fatalf("token = %q, %v", tok, err)
	}
}

func TestAuthorizedUser(t *testing.T) {
	var tokenURL string
	srv := tokenEndpoint(t, func(r *http.Request) string {
		f := r.PostForm
		if f.Get("grant_type") != "refresh_token" || f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" || f.Get("refresh_token") != "rt" {
			return "Token has been expired or revoked."
		}
		return ""
	})
	tokenURL = srv.URL + "/token"
	// gcloud's well-known file under CLOUDSDK_CONFIG, found without
	// GOOGLE_APPLICATION_CREDENTIALS.
	dir := t.TempDir()
	b, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
		"refresh_token": "rt", "token_uri": tokenURL})
	if err := os.WriteFile(filepath.Join(dir, "application_default_credentials.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Find(Config{Scope: ScopeStorage, Getenv: env(map[string]string{"CLOUDSDK_CONFIG": dir})})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := src.Token(context.Background()); err != nil || tok != "ya29.test" {
		t.Fatalf("token = %q, %v", tok, err)
	}
	// A revoked refresh token: the endpoint's reason, and no secret.
	bad := writeJSON(t, map[string]string{"type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
		"refresh_token": "revoked-secret", "token_uri": tokenURL})
	src, err = FromFile(bad, ScopeStorage, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: invalid_grant Token has been expired or revoked.") ||
		strings.Contains(err.Error(), "revoked-secret") || strings.Contains(err.Error(), "csecret") {
		t.Fatalf("err = %v", err)
	}
}

func TestFindErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.json")
	ext := writeJSON(t, map[string]string{"type": "external_account"})
	noKey := writeJSON(t, map[string]string{"type": "service_account", "client_email": "a@b", "private_key": "x", "token_uri": "http://127.0.0.1:1/t"})
	for _, tc := range []struct{ path, want string }{
		{missing, "gcp credentials file: open " + missing},
		{ext, `type "external_account" is not supported`},
		{noKey, "private_key: no PEM block"},
	} {
		_, err := Find(Config{Scope: ScopeStorage, Getenv: env(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": tc.path})})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.want)
		}
	}
	// No file anywhere: the metadata server, which here does not answer.
	src, err := Find(Config{Scope: ScopeStorage, Getenv: env(map[string]string{"HOME": dir, "GCE_METADATA_HOST": "127.0.0.1:1"})})
	if err != nil || src.Kind() != "metadata server 127.0.0.1:1" {
		t.Fatalf("fallback = %v, %v", src.Kind(), err)
	}
	if _, err := src.Token(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "gcp credentials (metadata server 127.0.0.1:1): ") {
		t.Fatalf("unreachable metadata server: %v", err)
	}
	var nilSrc *Source
	if tok, err := nilSrc.Token(context.Background()); tok != "" || err != nil {
		t.Fatalf("nil source = %q, %v", tok, err)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
