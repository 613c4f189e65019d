package etcd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/lbhc/lbhc/election"
)

func TestEtcdTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		secs int64
		err  string
	}{
		{15 * time.Second, 15, ""},
		{time.Second, 1, ""},
		{time.Minute, 60, ""},
		{1500 * time.Millisecond, 0, "invalid --lease-ttl: etcd leases last whole seconds (>= 1s), got 1.5s"},
		{999 * time.Millisecond, 0, "invalid --lease-ttl: etcd leases last whole seconds (>= 1s), got 999ms"},
		{0, 0, "invalid --lease-ttl: etcd leases last whole seconds (>= 1s), got 0s"},
	} {
		secs, err := EtcdTTL(tc.ttl)
		if secs != tc.secs || errString(err) != tc.err {
			t.Errorf("EtcdTTL(%s) = %d, %q; want %d, %q", tc.ttl, secs, errString(err), tc.secs, tc.err)
		}
	}
}

func TestEtcdKey(t *testing.T) {
	for _, tc := range []struct{ prefix, name, key string }{
		{"/lbhc", "web", "/lbhc/web"},
		{"/lbhc/", "web", "/lbhc/web"},
		{"/", "web", "/web"},
		{"/a/b//", "web", "/a/b/web"},
	} {
		if got := EtcdKey(tc.prefix, tc.name); got != tc.key {
			t.Errorf("EtcdKey(%q, %q) = %q, want %q", tc.prefix, tc.name, got, tc.key)
		}
	}
}

func TestParseEtcdEndpoints(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"http://127.0.0.1:2379", []string{"http://127.0.0.1:2379"}, ""},
		{" https://a:2379, https://b:2379 ,", []string{"https://a:2379", "https://b:2379"}, ""},
		{"http://[::1]:2379/", []string{"http://[::1]:2379/"}, ""},
		{"", nil, "invalid --etcd-endpoints: must list at least one URL, e.g. https://10.0.0.5:2379,https://10.0.0.6:2379"},
		{" , ", nil, "invalid --etcd-endpoints: must list at least one URL, e.g. https://10.0.0.5:2379,https://10.0.0.6:2379"},
		{"etcd1:2379", nil, `invalid --etcd-endpoints: "etcd1:2379" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
		{"http://a:1/v3", nil, `invalid --etcd-endpoints: "http://a:1/v3" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
		{"http://", nil, `invalid --etcd-endpoints: "http://" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
		{"https://root:s3cr3t@etcd1:2379", nil, `invalid --etcd-endpoints: "https://xxxxx@etcd1:2379" carries credentials: use --etcd-username and --etcd-password-file`},
		{"http://a:2379,http://u:p@ss@b:2379", nil, `invalid --etcd-endpoints: "http://xxxxx@b:2379" carries credentials: use --etcd-username and --etcd-password-file`},
		{"http://u:s3cr3t@b:2379/v3", nil, `invalid --etcd-endpoints: "http://xxxxx@b:2379/v3" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
		{"u:s3cr3t@b:2379", nil, `invalid --etcd-endpoints: "xxxxx@b:2379" is not an endpoint URL like http://10.0.0.5:2379 or https://etcd1:2379`},
	} {
		got, err := ParseEtcdEndpoints(tc.in)
		if !reflect.DeepEqual(got, tc.want) || errString(err) != tc.err {
			t.Errorf("ParseEtcdEndpoints(%q) = %q, %q; want %q, %q", tc.in, got, errString(err), tc.want, tc.err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://a:2379":                 "http://a:2379",
		"https://u:pw@a:2379":           "https://xxxxx@a:2379",
		"https://u:p@w@a:2379/x?y=@z":   "https://xxxxx@a:2379/x?y=@z",
		"u:pw@a:2379":                   "xxxxx@a:2379",
		"http://a:2379/path@not-a-user": "http://a:2379/path@not-a-user",
	} {
		if got := RedactURL(in); got != want || strings.Contains(got, "pw") {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEtcdStartError(t *testing.T) {
	eps := []string{"http://a:2379", "http://b:2379"}
	for _, tc := range []struct {
		err  error
		msg  string
		code int
	}{
		{rpctypes.ErrAuthFailed, "invalid --etcd-username: etcd rejected the user name or password (--etcd-password-file): etcdserver: authentication failed, invalid user ID or password", 2},
		{rpctypes.ErrPermissionDenied, `invalid --etcd-username: not allowed to read "/lbhc/g": grant the user a read-write role on the --etcd-prefix range: etcdserver: permission denied`, 2},
		{rpctypes.ErrUserEmpty, "invalid --etcd-username: etcd has authentication enabled: set --etcd-username and --etcd-password-file", 2},
		{errors.New("context deadline exceeded"), "etcd: no endpoint of --etcd-endpoints (http://a:2379,http://b:2379) answered: context deadline exceeded", 0},
	} {
		err := etcdStartError(eps, "read", "/lbhc/g", tc.err)
		if err.Error() != tc.msg {
			t.Errorf("got  %s\nwant %s", err, tc.msg)
		}
		var ce *election.ConfigError
		if errors.As(err, &ce) != (tc.code == 2) {
			t.Errorf("%v: ConfigError = %v, want %v", tc.err, !(tc.code == 2), tc.code == 2)
		}
	}
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lbhc-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestEtcdClientConfigTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := EtcdClientConfig{Endpoints: []string{"https://etcd1:2379"}, CAFile: cert, CertFile: cert, KeyFile: key,
		Username: "lbhc", PasswordFile: pw, DialTimeout: time.Second}.clientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS == nil || cfg.TLS.RootCAs == nil || len(cfg.TLS.Certificates) != 1 || cfg.TLS.MinVersion != 0x0303 {
		t.Fatalf("TLS config not built from the files: %+v", cfg.TLS)
	}
	if cfg.Username != "lbhc" || cfg.Password != "s3cret" {
		t.Fatalf("credentials %q/%q, want lbhc/s3cret (trailing newline dropped)", cfg.Username, cfg.Password)
	}
	// A key that does not match the certificate.
	_, other := writeCert(t, t.TempDir())
	_, err = EtcdClientConfig{Endpoints: []string{"https://etcd1:2379"}, CertFile: cert, KeyFile: other, DialTimeout: time.Second}.clientConfig()
	want := "invalid --etcd-cert-file: with --etcd-key-file: tls: private key does not match public key"
	if errString(err) != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	// Plain http: no TLS at all.
	cfg, err = EtcdClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}, DialTimeout: time.Second}.clientConfig()
	if err != nil || cfg.TLS != nil || cfg.Username != "" {
		t.Fatalf("plain config: %+v, %v", cfg.TLS, err)
	}
}

// The etcd backend can be observed without acquiring (election.Peeker).
var _ election.Peeker = (*EtcdBackend)(nil)

// errString is err's message, "" for nil, so that tables can compare both.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
