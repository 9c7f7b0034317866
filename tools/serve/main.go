// Command serve serves pairflow pipeline streams over Arrow Flight, for
// trainers on other machines or processes (docs/serve.md): a client sends a
// descriptor (dataset name, pipeline config, world size, worker count,
// start), GetFlightInfo answers one endpoint per (rank, worker) with a signed
// ticket, and DoGet streams that endpoint's record batches (SCHEMA.md),
// each batch tagged with its epoch and batch index, the last one with the
// stream's summary. The same streams are served as Arrow IPC over HTTP for
// clients without Flight.
//
//	serve --dataset fmnist=data/fashion-mnist/train [--listen 127.0.0.1:8815]
//	      [--dataset imagenet=s3://bucket/imagenet/train --s3-endpoint … --cache-dir …]
//	      [--http-listen 127.0.0.1:8816] [--metrics-listen 127.0.0.1:9090]
//	      [--ticket-key FILE] [--token-file FILE] [--tls-cert F --tls-key F]
//
// It binds to 127.0.0.1 unless told otherwise. Servers of one pool share
// --ticket-key (a file of at least 16 bytes) so that any of them serves or
// resumes any ticket; without it tickets are valid on this process only.
// --token-file makes every request carry "authorization: Bearer <token>".
// Logs are structured (log/slog) on stderr; SIGINT or SIGTERM stops the
// server after closing its streams.
//
// Exit status: 0 after a clean stop, 1 on failure, 2 on a usage error.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/pairflow/pairflow/internal/inputfile"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("serve", "Usage: serve --dataset NAME=PATH [flags]\n\nServes pairflow pipeline streams over Arrow Flight and HTTP (docs/serve.md).\n\n", stderr)
	return fs.Exit(serveMain(ctx, fs, args, stderr))
}

// maxSecretBytes bounds --ticket-key and --token-file.
const maxSecretBytes = 4096

// readSecret reads a small regular file (inputfile: a device or FIFO is
// refused, the size bounded before reading), trimming trailing line endings.
func readSecret(path string) ([]byte, error) {
	b, err := inputfile.ReadFile(path, maxSecretBytes)
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

func serveMain(ctx context.Context, fs *cli.FlagSet, args []string, stderr io.Writer) error {
	var remote cli.Remote
	remote.Register(fs.FlagSet)
	datasets := fs.Strings("dataset", "NAME=PATH of a split to serve: a shard directory, or s3://… / https://… (repeatable; at least one)")
	locations := fs.Strings("location", "URI advertised in every endpoint, e.g. grpc+tcp://host:8815 (repeatable; default: the Flight listen address unless it is a wildcard)")
	var (
		listen     = fs.String("listen", "127.0.0.1:8815", "Flight (gRPC) listen address, or unix:///path.sock for a Unix socket (mode 0600)")
		httpListen = fs.String("http-listen", "", "HTTP Arrow IPC stream listen address (off when empty)")
		metrics    = fs.String("metrics-listen", "", "Prometheus /metrics listen address (off when empty)")
		keyFile    = fs.String("ticket-key", "", "file holding the HMAC key shared by a pool's servers (≥ 16 bytes; default: a random key per process)")
		tokenFile  = fs.String("token-file", "", "file holding the bearer token clients must send (default: no authentication)")
		certFile   = fs.String("tls-cert", "", "TLS certificate (PEM) for Flight and HTTP")
		keyPEM     = fs.String("tls-key", "", "TLS private key (PEM)")
		maxStreams = fs.Int("max-streams", 16, "streams served at once; more are refused (ResourceExhausted / HTTP 429)")
		workers    = fs.Int("workers", 0, "pipeline workers per stream (0: GOMAXPROCS)")
		prefetch   = fs.Int("prefetch", 0, "finished batches queued per stream ahead of the network (0: 2)")
		logFormat  = fs.String("log-format", "text", "log format: text or json")
		verbose    = fs.Bool("v", false, "log every stream at debug level too")
	)
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	if len(*datasets) == 0 {
		return fmt.Errorf("%w: --dataset NAME=PATH is required", cli.ErrUsage)
	}
	if (*certFile == "") != (*keyPEM == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", cli.ErrUsage)
	}
	if *maxStreams < 1 || *workers < 0 || *prefetch < 0 {
		return fmt.Errorf("%w: --max-streams ≥ 1, --workers and --prefetch ≥ 0", cli.ErrUsage)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	var h slog.Handler
	switch *logFormat {
	case "text":
		h = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		return fmt.Errorf("%w: --log-format %q (text or json)", cli.ErrUsage, *logFormat)
	}
	log := slog.New(h)

	oo, err := remote.OpenOptions()
	if err != nil {
		return err
	}
	opt := Options{Datasets: map[string]*shards.Dataset{}, MaxStreams: *maxStreams, Workers: *workers,
		Prefetch: *prefetch, Logger: log, Metrics: NewMetrics(nil)}
	for _, d := range *datasets {
		name, path, ok := strings.Cut(d, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("%w: --dataset %q: want NAME=PATH", cli.ErrUsage, d)
		}
		if _, dup := opt.Datasets[name]; dup {
			return fmt.Errorf("%w: --dataset %s given twice", cli.ErrUsage, name)
		}
		ds, err := shards.Open(path, oo)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", name, err)
		}
		defer ds.Close()
		opt.Datasets[name] = ds
		log.Info("dataset", "name", name, "path", path, "records", ds.Len(), "shards", ds.NumShards())
	}
	if *keyFile != "" {
		k, err := readSecret(*keyFile)
		if err != nil {
			return fmt.Errorf("--ticket-key: %w", err)
		}
		opt.TicketKey = k
	} else {
		log.Warn("no --ticket-key: tickets are valid on this process only (a pool of servers, or a restarted one, needs a shared key)")
	}
	if *tokenFile != "" {
		t, err := readSecret(*tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if len(t) == 0 {
			return fmt.Errorf("--token-file %s is empty", *tokenFile)
		}
		opt.Token = string(t)
	}
	var tlsCfg *tls.Config
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyPEM)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	sock, isUnix, err := unixPath(*listen)
	if err != nil {
		return fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	var lis net.Listener
	if isUnix {
		if tlsCfg != nil {
			return fmt.Errorf("%w: --tls-cert with a unix:// --listen (a local socket needs no TLS)", cli.ErrUsage)
		}
		lis, err = listenUnix(sock)
	} else {
		lis, err = net.Listen("tcp", *listen)
	}
	if err != nil {
		return err
	}
	scheme := "grpc+tcp"
	if tlsCfg != nil {
		scheme = "grpc+tls"
	}
	if len(*locations) == 0 {
		if isUnix {
			*locations = append(*locations, unixLocation(sock))
		} else if host, _, _ := net.SplitHostPort(lis.Addr().String()); !net.ParseIP(host).IsUnspecified() {
			*locations = append(*locations, scheme+"://"+lis.Addr().String())
		}
	}
	opt.Locations = *locations
	srv, err := NewServer(opt)
	if err != nil {
		lis.Close()
		return err
	}
	gopts := srv.GRPCOptions()
	if tlsCfg != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	gs := grpc.NewServer(gopts...)
	flight.RegisterFlightServiceServer(gs, srv)
	log.Info("flight listening", "addr", lis.Addr().String(), "tls", tlsCfg != nil, "auth", opt.Token != "", "locations", strings.Join(*locations, " "))

	errc := make(chan error, 3)
	go func() { errc <- gs.Serve(lis) }()
	var https []*http.Server
	startHTTP := func(addr, what string, h http.Handler) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg,
			ErrorLog: slog.NewLogLogger(h2s(log), slog.LevelWarn)}
		https = append(https, hs)
		log.Info(what+" listening", "addr", l.Addr().String())
		go func() {
			var err error
			if tlsCfg != nil {
				err = hs.ServeTLS(l, "", "")
			} else {
				err = hs.Serve(l)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		return nil
	}
	stopAll := func() {
		for _, hs := range https {
			hs.Close()
		}
		gs.Stop() // cancels the running streams
		srv.Wait()
	}
	if *httpListen != "" {
		if err := startHTTP(*httpListen, "http", srv.HTTPHandler()); err != nil {
			stopAll()
			return err
		}
	}
	if *metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", opt.Metrics.Handler())
		mux.Handle("GET /v1/streams", srv.StreamsHandler())
		if err := startHTTP(*metrics, "metrics", mux); err != nil {
			stopAll()
			return err
		}
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
		stopAll()
		return nil
	case err := <-errc:
		stopAll()
		return err
	}
}

func h2s(l *slog.Logger) slog.Handler { return l.Handler() }
