package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Flight over a Unix domain socket, for a trainer on the same machine as
// the service (docs/serve.md, "Same host"): `--listen unix:///path/x.sock`.
// The socket file is created with mode 0600 (only the server's user can
// connect) and removed when the server stops; endpoints advertise
// grpc+unix:///path/x.sock, the scheme Arrow Flight (pyarrow's
// Location.for_grpc_unix, Arrow C++) uses. Go clients dial "unix:///path"
// (grpc-go's name for it).

// UnixScheme prefixes a --listen value naming a Unix socket.
const UnixScheme = "unix://"

// unixPath returns the socket path of a unix:// listen address, ok false
// for any other address.
func unixPath(listen string) (path string, ok bool, err error) {
	p, ok := strings.CutPrefix(listen, UnixScheme)
	if !ok {
		return "", false, nil
	}
	if p == "" || !filepath.IsAbs(p) {
		return "", true, fmt.Errorf("--listen %q: want unix:///absolute/path.sock", listen)
	}
	return filepath.Clean(p), true, nil
}

// unixLocation is the Flight location of a socket path.
func unixLocation(path string) string { return "grpc+unix://" + path }

// listenUnix listens on a Unix socket at path with mode 0600. A stale
// socket file left by a killed server (nothing accepts on it) is replaced;
// a live one, or a path that is not a socket, is an error. Closing the
// listener removes the file.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another server is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// The directory's permissions guard the moment between bind and chmod;
	// after it only the server's user (and root) can connect.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod 0600 %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	return l, nil
}

// FlightTarget returns the grpc-go dial target of a Flight location URI:
// grpc+unix:///path → unix:///path, grpc[+tcp|+tls]://host:port →
// host:port (TLS is the dialler's credentials).
func FlightTarget(location string) (string, error) {
	scheme, rest, ok := strings.Cut(location, "://")
	switch {
	case !ok:
	case scheme == "grpc+unix" && filepath.IsAbs(rest):
		return "unix://" + rest, nil
	case (scheme == "grpc" || scheme == "grpc+tcp" || scheme == "grpc+tls") && rest != "":
		return rest, nil
	}
	return "", fmt.Errorf("serve: location %q: want grpc+tcp://host:port, grpc+tls://host:port or grpc+unix:///path", location)
}
