package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fabric-run/fabric/internal/auth"
	"github.com/fabric-run/fabric/internal/config"
	"github.com/fabric-run/fabric/internal/guard"
	"github.com/fabric-run/fabric/internal/mcpserver"
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/signing"
	"github.com/fabric-run/fabric/internal/sshexec"
	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// settings are the knobs after environment and flags.
type settings struct {
	Servers       []string
	Prefix        string
	StateDir      string
	RecordTTL     time.Duration
	CmdTimeout    time.Duration
	StatusTimeout time.Duration
	AckTimeout    time.Duration
	Thresholds    router.Thresholds
	LocalNode     string
	NodeName      string
	Caps          []string
	Slots         int
	Heartbeat     time.Duration
	OutputLimit   int
	DrainGrace    time.Duration
	Listen        string
	LogLevel      string
	Guard         guard.Policy
	ConfigFile    string
	SSH           sshexec.Config
	Auth          auth.Client
	AuthFile      string
	SignKey       string
	Trusted       []string
	SignWindow    time.Duration
	// SyncBudget and MCPOutputBytes shape the MCP tools' answers.
	SyncBudget     time.Duration
	MCPOutputBytes int

	subjects subjects.Space
}

// loadSettings reads every FABRIC_* variable, reporting all bad ones.
func loadSettings(lookup config.Lookup) (*settings, error) {
	r := config.NewReader(lookup)
	s := &settings{
		Servers:       r.List("FABRIC_SERVER", nil),
		Prefix:        r.String("FABRIC_PREFIX", subjects.DefaultPrefix),
		StateDir:      r.String("FABRIC_STATE_DIR", ""),
		RecordTTL:     r.Seconds("FABRIC_RECORD_TTL", tasks.DefaultMaxAge),
		CmdTimeout:    r.Seconds("FABRIC_CMD_TIMEOUT", wire.DefaultTimeout),
		StatusTimeout: r.Seconds("FABRIC_STATUS_TIMEOUT", 5*time.Second),
		AckTimeout:    r.Seconds("FABRIC_ACK_TIMEOUT", 3*time.Second),
		Thresholds: router.Thresholds{
			CPUPercent: r.Float("FABRIC_CPU_THRESHOLD", router.DefaultThresholds.CPUPercent),
			Load:       r.Float("FABRIC_LOAD_THRESHOLD", router.DefaultThresholds.Load),
			MemPercent: r.Float("FABRIC_MEMORY_THRESHOLD", router.DefaultThresholds.MemPercent),
		},
		LocalNode:   r.String("FABRIC_LOCAL_NODE", ""),
		NodeName:    r.String("FABRIC_NODE_NAME", ""),
		Caps:        r.List("FABRIC_CAPS", nil),
		Slots:       r.Int("FABRIC_SLOTS", 0, 1),
		Heartbeat:   r.Seconds("FABRIC_HEARTBEAT", 2*time.Second),
		OutputLimit: r.Int("FABRIC_OUTPUT_LIMIT", wire.DefaultOutputLimit, 1024),
		DrainGrace:  r.Seconds("FABRIC_DRAIN_GRACE", 30*time.Second),
		Listen:      r.String("FABRIC_LISTEN", "127.0.0.1:4222"),
		LogLevel:    r.OneOf("FABRIC_LOG_LEVEL", "", "debug", "info", "warn", "error"),
		Guard: guard.Policy{
			DenyList:   r.List("FABRIC_GUARD_DENY", nil),
			AllowList:  r.List("FABRIC_GUARD_ALLOW", nil),
			AllowPower: r.Bool("FABRIC_GUARD_ALLOW_POWER", false),
			AllowEnv:   r.List("FABRIC_GUARD_ALLOW_ENV", nil),
		},
		ConfigFile: r.String("FABRIC_CONFIG", ""),
		SSH:        sshexec.DefaultConfig(),
		Auth: auth.Client{
			NKeySeed: r.String("FABRIC_NKEY", ""),
			Creds:    r.String("FABRIC_CREDS", ""),
			User:     r.String("FABRIC_USER", ""),
			Password: r.String("FABRIC_PASSWORD", ""),
			Token:    r.String("FABRIC_TOKEN", ""),
			TLSCA:    r.String("FABRIC_TLS_CA", ""),
			TLSCert:  r.String("FABRIC_TLS_CERT", ""),
			TLSKey:   r.String("FABRIC_TLS_KEY", ""),
		},
		AuthFile:       r.String("FABRIC_AUTH_FILE", ""),
		SignKey:        r.String("FABRIC_SIGN_KEY", ""),
		Trusted:        r.List("FABRIC_TRUSTED_KEYS", nil),
		SignWindow:     r.Seconds("FABRIC_SIGN_WINDOW", signing.DefaultWindow),
		SyncBudget:     r.Seconds("FABRIC_SYNC_BUDGET", mcpserver.DefaultSyncBudget),
		MCPOutputBytes: r.Int("FABRIC_MCP_OUTPUT_BYTES", mcpserver.DefaultOutputBytes, mcpserver.MinOutputBytes),
	}
	s.SSH.User = r.String("FABRIC_SSH_USER", s.SSH.User)
	s.SSH.HandshakeTimeout = r.Seconds("FABRIC_SSH_TIMEOUT", s.SSH.HandshakeTimeout)
	s.SSH.ConnectTimeout = r.Seconds("FABRIC_SSH_CONNECT_TIMEOUT", s.SSH.ConnectTimeout)
	s.SSH.Retries = r.Int("FABRIC_SSH_RETRIES", s.SSH.Retries, 0)
	s.SSH.ResolveTTL = r.Seconds("FABRIC_IP_CACHE_TTL", s.SSH.ResolveTTL)
	s.SSH.KnownHostsFile = r.String("FABRIC_KNOWN_HOSTS", s.SSH.KnownHostsFile)
	s.SSH.CommandTimeout = s.CmdTimeout
	s.SSH.OutputLimit = s.OutputLimit
	if s.StateDir == "" {
		s.StateDir = defaultStateDir(lookup)
	}
	return s, r.Err()
}

// finish validates what flags may have changed.
func (s *settings) finish() error {
	sp, err := subjects.New(s.Prefix)
	if err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	s.subjects = sp
	switch s.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", s.LogLevel)
	}
	return nil
}

func defaultStateDir(lookup config.Lookup) string {
	if d, ok := lookup("XDG_STATE_HOME"); ok && d != "" {
		return filepath.Join(d, "fabric")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "fabric")
	}
	return filepath.Join(os.TempDir(), "fabric-state")
}
