package sshexec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/fabric-run/fabric/internal/wire"
)

// Defaults, from the seed system's settings where it had one.
const (
	DefaultConnectTimeout   = 2 * time.Second // CLUSTER_SSH_CONNECT_TIMEOUT
	DefaultHandshakeTimeout = 5 * time.Second // CLUSTER_SSH_TIMEOUT
	DefaultRetries          = 2               // CLUSTER_SSH_RETRIES
	DefaultRetryBackoff     = 250 * time.Millisecond
	DefaultKeepAlive        = 15 * time.Second
	DefaultResolveTTL       = 300 * time.Second // CLUSTER_IP_CACHE_TTL
	DefaultMaxSessions      = 10                // OpenSSH's MaxSessions
)

// Shell preferences for Config.Shell.
const (
	ShellAuto = ""     // bash if the remote has it, else sh
	ShellBash = "bash" // bash; a host without it fails the task
	ShellSh   = "sh"   // always /bin/sh
)

// Resolver looks up a host name's addresses. *net.Resolver implements it; the
// system resolver covers mDNS (.local) names where the system does.
type Resolver interface {
	LookupHost(ctx context.Context, host string) (addrs []string, err error)
}

// Config configures a Pool. DefaultConfig returns a working one; in New, a
// zero duration, limit or path takes its default as documented per field.
type Config struct {
	// User is the login name for hosts that name none. Default: the current
	// user. (The front end resolves FABRIC_SSH_USER into it.)
	User string
	// ConnectTimeout bounds one TCP connect. Default 2 s.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake and authentication on a
	// connected socket, and each control exchange (kill, shell detection).
	// Default 5 s.
	HandshakeTimeout time.Duration
	// Retries is how many more times a failed connect or handshake is tried,
	// with exponential backoff and jitter between attempts. DefaultConfig
	// sets 2; zero means a single attempt. Authentication and host key
	// failures are never retried.
	Retries int
	// RetryBackoff is the pause before the first retry; it doubles (with
	// jitter) for each further one. Default 250 ms.
	RetryBackoff time.Duration
	// KnownHostsFile is checked with accept-new semantics: a new host's key
	// is appended, a changed key is refused. Default ~/.ssh/known_hosts.
	KnownHostsFile string
	// IdentityFiles are private keys offered after the agent's, after a
	// host's own IdentityFile. Nil means the OpenSSH defaults that exist
	// (~/.ssh/id_ed25519, id_ecdsa, id_rsa); listed files must exist.
	IdentityFiles []string
	// AgentSocket is the ssh-agent socket. Default $SSH_AUTH_SOCK (set by
	// DefaultConfig); empty means no agent.
	AgentSocket string
	// KeepAlive is the interval of keepalive@openssh.com requests on each
	// connection; a request that fails (or gets no answer within
	// HandshakeTimeout) marks the connection dead. Zero disables them.
	// DefaultConfig sets 15 s.
	KeepAlive time.Duration
	// Resolver looks up host names. Default net.DefaultResolver.
	Resolver Resolver
	// ResolveTTL is how long looked-up addresses are reused. Default 300 s;
	// negative means never cache.
	ResolveTTL time.Duration
	// OutputLimit is how many bytes of each stream a result keeps (head and
	// tail) when the task sets none. Default wire.DefaultOutputLimit (1 MiB).
	OutputLimit int
	// CommandTimeout is the timeout of a task that sets none. Default
	// wire.DefaultTimeout (300 s, the seed's CLUSTER_CMD_TIMEOUT).
	CommandTimeout time.Duration
	// Shell chooses the shell for commands: ShellAuto, ShellBash or ShellSh.
	Shell string
	// MaxSessions is how many sessions the server allows per connection
	// (sshd's MaxSessions, default 10). One is kept for control (killing a
	// timed-out command), so at most MaxSessions-1 commands or probes run
	// at once on a host; more wait their turn.
	MaxSessions int
	// Logger receives connection events. Default: discarded.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults, with User set to the current user and
// AgentSocket to $SSH_AUTH_SOCK.
func DefaultConfig() Config {
	return Config{
		User:             currentUser(),
		ConnectTimeout:   DefaultConnectTimeout,
		HandshakeTimeout: DefaultHandshakeTimeout,
		Retries:          DefaultRetries,
		RetryBackoff:     DefaultRetryBackoff,
		KnownHostsFile:   homePath(".ssh", "known_hosts"),
		AgentSocket:      os.Getenv("SSH_AUTH_SOCK"),
		KeepAlive:        DefaultKeepAlive,
		Resolver:         net.DefaultResolver,
		ResolveTTL:       DefaultResolveTTL,
		OutputLimit:      wire.DefaultOutputLimit,
		CommandTimeout:   wire.DefaultTimeout,
		MaxSessions:      DefaultMaxSessions,
	}
}

// withDefaults checks c and fills in the defaults of its zero fields.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ConnectTimeout", &c.ConnectTimeout, DefaultConnectTimeout},
		{"HandshakeTimeout", &c.HandshakeTimeout, DefaultHandshakeTimeout},
		{"RetryBackoff", &c.RetryBackoff, DefaultRetryBackoff},
		{"CommandTimeout", &c.CommandTimeout, wire.DefaultTimeout},
	} {
		switch {
		case *d.v < 0:
			bad("%s %v is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if c.Retries < 0 {
		bad("Retries %d is negative", c.Retries)
	}
	if c.KeepAlive < 0 {
		bad("KeepAlive %v is negative (zero disables keepalives)", c.KeepAlive)
	}
	if c.ResolveTTL == 0 {
		c.ResolveTTL = DefaultResolveTTL
	}
	switch {
	case c.OutputLimit < 0:
		bad("OutputLimit %d is negative", c.OutputLimit)
	case c.OutputLimit == 0:
		c.OutputLimit = wire.DefaultOutputLimit
	}
	switch {
	case c.MaxSessions == 0:
		c.MaxSessions = DefaultMaxSessions
	case c.MaxSessions < 2:
		bad("MaxSessions %d: need at least 2 (one is kept for control)", c.MaxSessions)
	}
	switch c.Shell {
	case ShellAuto, ShellBash, ShellSh:
	default:
		bad("Shell %q: want %q, %q or empty (auto)", c.Shell, ShellBash, ShellSh)
	}
	if c.User == "" {
		c.User = currentUser()
		if c.User == "" {
			bad("User: not set and the current user is unknown")
		}
	}
	if c.KnownHostsFile == "" {
		c.KnownHostsFile = homePath(".ssh", "known_hosts")
		if c.KnownHostsFile == "" {
			bad("KnownHostsFile: not set and there is no home directory")
		}
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("sshexec: config: %w", err)
	}
	return c, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// homePath joins elem under the home directory, or returns "" if there is none.
func homePath(elem ...string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(append([]string{home}, elem...)...)
}
