package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BindError is a listener that could not be bound. Its message is nginx's, as "kong start"
// reports it: nginx: [emerg] bind() to 127.0.0.1:8001 failed (98: Address already in use).
type BindError struct {
	Addr string
	Err  error
}

func (e *BindError) Error() string {
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		return fmt.Sprintf("nginx: [emerg] bind() to %s failed (%d: %s)", e.Addr, int(errno), errnoText(errno))
	}
	return fmt.Sprintf("nginx: [emerg] bind() to %s failed (%v)", e.Addr, e.Err)
}

func (e *BindError) Unwrap() error { return e.Err }

// errnoText is glibc's strerror, which nginx prints ("Address already in use").
func errnoText(errno syscall.Errno) string {
	s := errno.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// listeners are the bound sockets, by API.
type listeners struct {
	admin, status, cluster []net.Listener
}

func (l listeners) close() {
	for _, ln := range slices.Concat(l.admin, l.status, l.cluster) {
		ln.Close()
	}
}

// bindAll binds every address, or none: on the first failure the others are closed.
func bindAll(admin, status, cluster []string) (listeners, error) {
	var l listeners
	bind := func(addrs []string, into *[]net.Listener) error {
		for _, a := range addrs {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return &BindError{Addr: a, Err: err}
			}
			*into = append(*into, ln)
		}
		return nil
	}
	if err := bind(admin, &l.admin); err != nil {
		l.close()
		return listeners{}, err
	}
	if err := bind(status, &l.status); err != nil {
		l.close()
		return listeners{}, err
	}
	if err := bind(cluster, &l.cluster); err != nil {
		l.close()
		return listeners{}, err
	}
	return l, nil
}

// servers are the Admin and Status API HTTP servers.
type servers struct {
	all    []*http.Server
	failed chan error // a listener failed while serving
	wg     sync.WaitGroup
}

// serve starts the Admin and Status API servers on their listeners. Request contexts
// derive from ctx, so a hard stop ends every handler.
func (n *node) serve(ctx context.Context, l listeners) *servers {
	s := &servers{failed: make(chan error, len(l.admin)+len(l.status)+len(l.cluster))}
	start := func(h http.Handler, lns []net.Listener) {
		if len(lns) == 0 {
			return
		}
		srv := &http.Server{
			Handler:           n.track(h),
			BaseContext:       func(net.Listener) context.Context { return ctx },
			ReadHeaderTimeout: 10 * time.Second,
		}
		s.all = append(s.all, srv)
		for _, ln := range lns {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					s.failed <- fmt.Errorf("serving %s: %w", ln.Addr(), err)
				}
			}()
		}
	}
	start(n.adminHandler(), l.admin)
	start(n.statusHandler(), l.status)
	start(n.clusterHandler(), l.cluster)
	return s
}

// track counts in-flight requests, so Run returns only once every handler has.
func (n *node) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.inflight.Add(1)
		defer n.inflight.Done()
		n.gen.CountRequest()
		h.ServeHTTP(w, r)
	})
}

// closeNow closes every listener and connection at once.
func (s *servers) closeNow() {
	for _, srv := range s.all {
		srv.Close()
	}
	s.wg.Wait()
}

// shutdown closes the listeners at once and lets in-flight requests finish; the returned
// channel is closed when they have (or when ctx ends).
func (s *servers) shutdown(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, srv := range s.all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := srv.Shutdown(ctx); err != nil {
					srv.Close()
				}
			}()
		}
		wg.Wait()
		s.wg.Wait()
	}()
	return done
}
