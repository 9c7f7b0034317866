package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pairflow test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndToken runs the command with TLS and a token: a TLS client with
// the token streams the pipeline's batches; a plaintext client fails.
func TestTLSAndToken(t *testing.T) {
	ds, dir := makeDatasetDir(t, 32, 16, 16)
	certFile, keyFile, pool := selfSigned(t)
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("tls-token\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dataset", "d=" + dir, "--listen", "127.0.0.1:0", "--tls-cert", certFile,
			"--tls-key", keyFile, "--token-file", tok, "--workers", "2"}, io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
	}()
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	c, err := flight.NewClientWithMiddleware(a, nil, nil, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := baseConfig()
	cfg.Epochs = 1
	fi, err := getInfo(withToken(context.Background(), "tls-token"), c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(fi.Endpoint[0].Location) != 1 || fi.Endpoint[0].Location[0].Uri != "grpc+tls://"+a {
		t.Errorf("locations %v", fi.Endpoint[0].Location)
	}
	bs, err := doGet(withToken(context.Background(), "tls-token"), t, c, fi.Endpoint[0].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "over TLS", bs, local(t, ds, cfg, 0))
	plain := dial(t, a)
	if _, err := getInfo(withToken(context.Background(), "tls-token"), plain, desc(t, cfg, 1, nil)); err == nil {
		t.Fatal("a plaintext client was served by a TLS server")
	}
}
