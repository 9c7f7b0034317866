package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// IPCContentType is the media type of the HTTP stream.
const IPCContentType = "application/vnd.apache.arrow.stream"

// HTTPInfo is the answer of POST /v1/info: the FlightInfo's app_metadata
// (InfoMetadata) and the endpoints.
type HTTPInfo struct {
	InfoMetadata
	Endpoints []HTTPEndpoint `json:"endpoints"`
}

// HTTPEndpoint is one endpoint of HTTPInfo.
type HTTPEndpoint struct {
	Rank   int    `json:"rank"`
	Worker int    `json:"worker"`
	Ticket string `json:"ticket"` // base64url, no padding
}

// HTTPHandler serves the HTTP fallback (docs/serve.md):
//
//	POST /v1/info             descriptor JSON -> HTTPInfo JSON
//	GET  /v1/stream?ticket=T  -> the endpoint's Arrow IPC stream
//	POST /v1/stream?endpoint=I  descriptor JSON -> endpoint I's IPC stream
//	GET  /healthz             -> 200 "ok"
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /v1/info", s.auth(s.httpInfo))
	mux.HandleFunc("GET /v1/stream", s.auth(s.httpStream))
	mux.HandleFunc("POST /v1/stream", s.auth(s.httpStream))
	return mux
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opt.Token != "" && !tokenOK(r.Header.Get("Authorization"), s.opt.Token) {
			s.m.refused.WithLabelValues("auth").Inc()
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "serve: missing or wrong bearer token (send Authorization: Bearer <token>)", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// httpError writes a gRPC status error as an HTTP error.
func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
		switch st.Code() {
		case codes.InvalidArgument, codes.FailedPrecondition:
			code = http.StatusBadRequest
		case codes.NotFound:
			code = http.StatusNotFound
		case codes.ResourceExhausted:
			code = http.StatusTooManyRequests
		case codes.Unauthenticated:
			code = http.StatusUnauthorized
		}
	}
	http.Error(w, msg, code)
}

func readDescriptor(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxDescriptorBytes))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v: reading the descriptor: %v", ErrDescriptor, err)
	}
	return b, nil
}

func (s *Server) httpInfo(w http.ResponseWriter, r *http.Request) {
	b, err := readDescriptor(w, r)
	if err == nil {
		var in *info
		if in, err = s.describe(b); err == nil {
			out := HTTPInfo{InfoMetadata: in.metadata()}
			for i, t := range in.tickets {
				out.Endpoints = append(out.Endpoints, HTTPEndpoint{Rank: i / in.workers, Worker: i % in.workers,
					Ticket: base64.RawURLEncoding.EncodeToString(t)})
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(out)
			return
		}
	}
	s.m.refused.WithLabelValues("descriptor").Inc()
	httpError(w, err)
}

func (s *Server) httpStream(w http.ResponseWriter, r *http.Request) {
	var tkt []byte
	var err error
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		var b []byte
		var in *info
		var i int
		if b, err = readDescriptor(w, r); err == nil {
			if in, err = s.describe(b); err == nil {
				i, err = strconv.Atoi(q.Get("endpoint"))
				if err != nil || i < 0 || i >= len(in.tickets) {
					err = status.Errorf(codes.InvalidArgument, "serve: endpoint=%q: want 0..%d", q.Get("endpoint"), len(in.tickets)-1)
				} else {
					tkt = in.tickets[i]
				}
			}
		}
	} else if tkt, err = base64.RawURLEncoding.DecodeString(q.Get("ticket")); err != nil || len(tkt) == 0 {
		err = status.Errorf(codes.InvalidArgument, "%v: ticket= is not base64url: %v", ErrTicket, err)
	}
	if err != nil {
		s.m.refused.WithLabelValues("descriptor").Inc()
		httpError(w, err)
		return
	}
	if err := s.acquire(); err != nil {
		httpError(w, err)
		return
	}
	defer s.releaseSlot()
	st, name, err := s.openTicket(tkt)
	if err != nil {
		httpError(w, err)
		return
	}
	s.m.connections.Inc()
	defer s.m.connections.Dec()
	w.Header().Set("Content-Type", IPCContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	bw := bufio.NewWriterSize(w, 64<<10)
	iw := ipc.NewWriter(bw, ipc.WithSchema(st.schema), ipc.WithAllocator(s.opt.Allocator))
	fl, _ := w.(http.Flusher)
	write := func(rec arrow.RecordBatch, _, _ []string) error {
		if err := iw.Write(rec); err != nil {
			return err
		}
		// Hand each batch to the client as it is made.
		if err := bw.Flush(); err != nil {
			return err
		}
		if fl != nil {
			fl.Flush()
		}
		return nil
	}
	closeOK := func() error {
		if err := iw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	}
	if err := s.serve(withClient(r.Context(), r.RemoteAddr), st, name, "http", write, closeOK); err != nil {
		// Cut the connection: a client must not mistake a failed stream
		// for a complete one (its end-of-stream marker was not written).
		panic(http.ErrAbortHandler)
	}
}
