package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Errors returned by the Pool, wrapped with the host and the operation; test
// with errors.Is. Every one of them means the task never started on the host,
// so the caller may safely try another.
var (
	// ErrClosed: the pool was closed.
	ErrClosed = errors.New("ssh pool closed")
	// ErrResolve: the host name did not resolve and it has no fallback
	// address.
	ErrResolve = errors.New("host name does not resolve")
	// ErrUnreachable: no address of the host accepted a connection and an
	// SSH handshake within the timeouts, after the retries.
	ErrUnreachable = errors.New("host unreachable")
	// ErrAuth: the server accepted none of the keys offered, or there was
	// no key to offer.
	ErrAuth = errors.New("ssh authentication failed")
	// ErrHostKeyChanged: the server's host key differs from the one in
	// known_hosts (or is revoked there). See HostKeyError.
	ErrHostKeyChanged = errors.New("host key changed")
	// ErrSession: the connection is up but the server would not open a
	// session or run the command.
	ErrSession = errors.New("ssh session refused")
)

// DialError reports a failed attempt to get a connection to a host.
type DialError struct {
	Host     string // the host's Name
	Addr     string // the address(es) tried, "127.0.0.1:2222"
	Op       string // "resolve", "connect", "handshake", "authenticate", "verify host key"
	Attempts int    // how many attempts were made
	Err      error  // what the last attempt ran into
	kind     error  // the sentinel the error stands for
}

// Error reads "ssh nas (127.0.0.1:2222): connect: connection refused (3 attempts)".
func (e *DialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh %s (%s): %s: %s", e.Host, e.Addr, e.Op, reason(e.Err))
	switch {
	case e.Attempts == 1 && (e.Op == opConnect || e.Op == opHandshake):
		b.WriteString(" (1 attempt)")
	case e.Attempts > 1:
		fmt.Fprintf(&b, " (%d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap gives both the sentinel (ErrUnreachable, ErrAuth ...) and the cause.
func (e *DialError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.Err}
	}
	return []error{e.kind, e.Err}
}

// reason describes a low-level error in a few words: "connection refused"
// rather than "dial tcp 127.0.0.1:2222: connect: connection refused".
func reason(err error) string {
	var hke *HostKeyError
	if errors.As(err, &hke) {
		return hke.Error()
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return te.Error()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err.Error()
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Err
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "ssh: handshake failed: "), "ssh: ")
}

// timeoutError says which timeout ran out.
type timeoutError struct {
	what string
	d    time.Duration
}

func (e *timeoutError) Error() string   { return fmt.Sprintf("no %s within %v", e.what, e.d) }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Is(t error) bool { return t == os.ErrDeadlineExceeded }

// HostKeyError is a refused host key: the server offered Offered, but
// known_hosts records Known for the host (or Revoked lists the offered key).
type HostKeyError struct {
	// Host is the known_hosts name checked: "nas.local" or "[127.0.0.1]:2222".
	Host    string
	Offered ssh.PublicKey
	// Known are the keys recorded for the host, with file and line.
	Known []knownhosts.KnownKey
	// Revoked is set when the offered key is marked @revoked.
	Revoked *knownhosts.KnownKey
}

// Error names the fingerprint offered and the known_hosts line(s) it
// contradicts.
func (e *HostKeyError) Error() string {
	offered := e.Offered.Type() + " " + ssh.FingerprintSHA256(e.Offered)
	if e.Revoked != nil {
		return fmt.Sprintf("host key %s of %s is revoked at %s:%d", offered, e.Host, e.Revoked.Filename, e.Revoked.Line)
	}
	known := make([]string, len(e.Known))
	for i, k := range e.Known {
		known[i] = fmt.Sprintf("%s:%d has %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key))
	}
	return fmt.Sprintf("host key of %s changed: the server offered %s but %s; "+
		"this may be a man-in-the-middle attack; if the host was reinstalled, remove the old key (ssh-keygen -R '%s') and retry",
		e.Host, offered, strings.Join(known, ", "), e.Host)
}

// Unwrap makes errors.Is(err, ErrHostKeyChanged) hold.
func (e *HostKeyError) Unwrap() error { return ErrHostKeyChanged }

// explained is an error whose message replaces its cause's, which it still
// wraps (for errors.Is and errors.As).
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }
