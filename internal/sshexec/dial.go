package sshexec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Operations named in DialError.
const (
	opResolve   = "resolve"
	opConnect   = "connect"
	opHandshake = "handshake"
	opAuth      = "authenticate"
	opHostKey   = "verify host key"
)

// dial connects and authenticates to h: every address of h in turn, the
// whole round retried cfg.Retries times with backoff. Host key and
// authentication failures end it at once.
func (p *Pool) dial(ctx context.Context, h Host) (*ssh.Client, string, error) {
	attempts := p.cfg.Retries + 1
	var last *DialError
	for i := range attempts {
		if i > 0 {
			if err := p.backoff(ctx, i); err != nil {
				last.Err, last.kind, last.Attempts = err, nil, i
				return nil, "", last
			}
		}
		addrs, err := p.res.addrs(ctx, h)
		if err != nil {
			last = &DialError{Host: h.Name, Addr: h.hostPort(), Op: opResolve, Err: err, kind: ErrResolve}
			if ctx.Err() != nil {
				last.Err, last.kind, last.Attempts = ctx.Err(), nil, i+1
				return nil, "", last
			}
			continue
		}
		tried := make([]string, 0, len(addrs))
		for _, ip := range addrs {
			addr := net.JoinHostPort(ip, strconv.Itoa(h.Port))
			tried = append(tried, addr)
			client, op, err := p.handshake(ctx, h, addr)
			if err == nil {
				return client, addr, nil
			}
			last = &DialError{Host: h.Name, Addr: describeAddrs(h, tried), Op: op, Err: err}
			switch {
			case ctx.Err() != nil:
				last.Err = ctx.Err()
				last.Attempts = i + 1
				return nil, "", last
			case op == opAuth:
				last.kind, last.Attempts = ErrAuth, i+1
				return nil, "", last
			case op == opHostKey:
				// A *HostKeyError is ErrHostKeyChanged by itself.
				last.Attempts = i + 1
				return nil, "", last
			}
			last.kind = ErrUnreachable
		}
		p.res.forget(h.Host)
	}
	last.Attempts = attempts
	return nil, "", last
}

// backoff waits before retry i (1, 2, ...): backoffBase(i), with jitter of
// ±50%.
func (p *Pool) backoff(ctx context.Context, i int) error {
	d := backoffBase(&p.cfg, i)
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoffBase is RetryBackoff doubled i-1 times, at most 10 s.
func backoffBase(cfg *Config, i int) time.Duration {
	const ceiling = 10 * time.Second
	d := cfg.RetryBackoff
	for j := 1; j < i && d < ceiling; j++ {
		d *= 2
	}
	return min(d, ceiling)
}

// describeAddrs names what a dial tried: "127.0.0.1:2222", or for a host
// name "nas.local:22 at 10.0.0.20:22, 10.0.0.21:22".
func describeAddrs(h Host, tried []string) string {
	list := strings.Join(tried, ", ")
	if net.ParseIP(h.Host) != nil {
		return list
	}
	return h.hostPort() + " at " + list
}

// handshake connects to addr and runs the SSH handshake as h: TCP connect
// bounded by ConnectTimeout, then the handshake and authentication bounded
// by HandshakeTimeout through a deadline on the socket (ClientConfig.Timeout
// covers only the TCP connect). It returns the operation that failed.
func (p *Pool) handshake(ctx context.Context, h Host, addr string) (*ssh.Client, string, error) {
	d := net.Dialer{Timeout: p.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			err = &timeoutError{what: "TCP connection", d: p.cfg.ConnectTimeout}
		}
		return nil, opConnect, err
	}
	keys, err := p.auth.keys(h.IdentityFile)
	if err != nil {
		conn.Close()
		return nil, opAuth, err
	}
	defer keys.close()
	algos, err := p.known.algorithms(h.hostPort())
	if err != nil {
		conn.Close()
		return nil, opHostKey, err
	}
	var keyErr error
	cfg := &ssh.ClientConfig{
		User: h.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(keys.signers...)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			keyErr = p.known.check(h.hostPort(), key)
			return keyErr
		},
		HostKeyAlgorithms: algos,
	}
	if err := conn.SetDeadline(time.Now().Add(p.cfg.HandshakeTimeout)); err != nil {
		conn.Close()
		return nil, opHandshake, err
	}
	// A cancelled ctx ends the handshake at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cc, chans, reqs, err := ssh.NewClientConn(conn, h.hostPort(), cfg)
	if err != nil {
		switch {
		case keyErr != nil:
			return nil, opHostKey, keyErr
		case ctx.Err() != nil:
			return nil, opHandshake, ctx.Err()
		case strings.Contains(err.Error(), "unable to authenticate"):
			// x/crypto/ssh has no typed error for this.
			return nil, opAuth, authError(h, keys, err)
		case isTimeout(err):
			return nil, opHandshake, &timeoutError{what: "SSH handshake", d: p.cfg.HandshakeTimeout}
		}
		return nil, opHandshake, err
	}
	if !stop() {
		cc.Close()
		return nil, opHandshake, ctx.Err()
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		cc.Close()
		return nil, opHandshake, err
	}
	return ssh.NewClient(cc, chans, reqs), "", nil
}

// authError explains a refused authentication: which keys were offered, as
// whom, and what could not be offered.
func authError(h Host, keys *keyring, err error) error {
	fps := make([]string, len(keys.signers))
	for i, s := range keys.signers {
		fps[i] = ssh.FingerprintSHA256(s.PublicKey())
	}
	msg := fmt.Sprintf("the server accepted none of the keys offered for user %s (%s)", h.User, strings.Join(fps, ", "))
	if why := keys.explain(); why != "" {
		msg += "; " + why
	}
	return &explained{msg: msg, err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
