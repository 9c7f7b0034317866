package clitest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/store"
)

// S3 starts the in-process S3 server with the bucket "data" for the rest of
// the test, with its credentials in the environment and no endpoint there
// (so that only the command's --s3-* flags can find it). It returns the
// server's URL.
func S3(t *testing.T) string {
	t.Helper()
	srv, err := s3test.NewServer("data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("PAIRFLOW_S3_PATH_STYLE", "")
	return srv.URL
}

// Upload copies the split in dir to url on the S3 server at endpoint.
func Upload(t *testing.T, dir, url, endpoint string) {
	t.Helper()
	st, err := store.Open(url, store.Options{Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(context.Background(), e.Name(), bytes.NewReader(b), int64(len(b)), false); err != nil {
			t.Fatal(err)
		}
	}
}
