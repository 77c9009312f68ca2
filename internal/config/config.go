// Package config reads fabric's environment knobs (FABRIC_*): one table of
// every variable, its default and meaning, and typed readers that fail with
// the variable's name when a value is invalid. Flags take precedence; the
// CLI uses these values as its flag defaults.
package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Knob is one environment variable.
type Knob struct {
	Env     string
	Default string
	Meaning string
}

// Knobs is every environment variable fabric reads, in README order.
var Knobs = []Knob{
	{"FABRIC_SERVER", "(none: embedded hub and local node)", "NATS server URL(s), comma-separated"},
	{"FABRIC_PREFIX", "fabric", "subject prefix"},
	{"FABRIC_STATE_DIR", "$XDG_STATE_HOME/fabric or ~/.local/state/fabric", "where the hub keeps its JetStream store (task records)"},
	{"FABRIC_RECORD_TTL", "604800 (7 days)", "how long task records are kept, seconds (or a duration like 72h)"},
	{"FABRIC_CMD_TIMEOUT", "300", "command timeout, seconds (or a duration like 5m)"},
	{"FABRIC_STATUS_TIMEOUT", "5", "how long status commands wait for the cluster, seconds"},
	{"FABRIC_ACK_TIMEOUT", "3", "how long a node has to accept a task before the next is tried, seconds"},
	{"FABRIC_CPU_THRESHOLD", "40", "local CPU % above which work is offloaded"},
	{"FABRIC_LOAD_THRESHOLD", "4", "local load average above which work is offloaded"},
	{"FABRIC_MEMORY_THRESHOLD", "80", "local memory % above which work is offloaded"},
	{"FABRIC_LOCAL_NODE", "(the node whose hostname is this machine's)", "id of this machine's node, which keeps light commands"},
	{"FABRIC_NODE_NAME", "(hostname made a token)", "node id of a worker"},
	{"FABRIC_CAPS", "(detected from PATH)", "extra capabilities of a worker, comma-separated"},
	{"FABRIC_SLOTS", "(CPU count)", "tasks a worker runs at once"},
	{"FABRIC_HEARTBEAT", "2", "worker heartbeat interval, seconds"},
	{"FABRIC_OUTPUT_LIMIT", "1048576", "bytes kept of each output stream per task"},
	{"FABRIC_DRAIN_GRACE", "30", "how long a stopping worker lets running tasks finish, seconds"},
	{"FABRIC_LISTEN", "127.0.0.1:4222", "address `fabric serve` listens on"},
	{"FABRIC_CONFIG", "$XDG_CONFIG_HOME/fabric/config.yaml (~/.config/fabric/config.yaml)", "the config file: SSH-only nodes (and node policy)"},
	{"FABRIC_SSH_USER", "(the current user)", "SSH login for nodes that name none"},
	{"FABRIC_SSH_TIMEOUT", "5", "SSH handshake and authentication timeout, seconds"},
	{"FABRIC_SSH_CONNECT_TIMEOUT", "2", "SSH TCP connect timeout, seconds"},
	{"FABRIC_SSH_RETRIES", "2", "SSH connect retries (with backoff)"},
	{"FABRIC_IP_CACHE_TTL", "300", "how long resolved SSH host addresses are reused, seconds"},
	{"FABRIC_KNOWN_HOSTS", "~/.ssh/known_hosts", "known_hosts file (accept-new: new hosts recorded, changed keys refused)"},
	{"FABRIC_NKEY", "(none)", "nkey seed file to authenticate to NATS with (as fabric init writes)"},
	{"FABRIC_CREDS", "(none)", ".creds file (user JWT and seed) for a NATS in operator mode"},
	{"FABRIC_USER", "(none)", "NATS user name (with FABRIC_PASSWORD)"},
	{"FABRIC_PASSWORD", "(none)", "NATS password"},
	{"FABRIC_TOKEN", "(none)", "NATS token"},
	{"FABRIC_TLS_CA", "(system roots)", "CA file the NATS server's certificate must chain to"},
	{"FABRIC_TLS_CERT", "(none)", "client certificate for servers that verify clients (with FABRIC_TLS_KEY)"},
	{"FABRIC_TLS_KEY", "(none)", "client certificate's key"},
	{"FABRIC_AUTH_FILE", "(none: open, loopback only)", "`fabric serve`: the hub's users, roles and TLS (fabric init writes one)"},
	{"FABRIC_SIGN_KEY", "(none)", "front end: nkey seed file to sign tasks with"},
	{"FABRIC_TRUSTED_KEYS", "(none: signatures not required)", "node: public keys (or files of them) whose signatures it requires"},
	{"FABRIC_SIGN_WINDOW", "120", "node: how old (or how far ahead) a signed task may be, seconds"},
	{"FABRIC_GUARD_DENY", "(none)", "programs the command guard refuses besides its built-in rules, comma-separated"},
	{"FABRIC_GUARD_ALLOW", "(none: any program)", "allow-list mode: the only programs commands may invoke, comma-separated"},
	{"FABRIC_GUARD_ALLOW_POWER", "false", "let commands shut down or reboot the machine"},
	{"FABRIC_GUARD_ALLOW_ENV", "(none)", "node: variables a task's environment may set although the shell or the loader runs code with them (BASH_ENV, LD_PRELOAD ...), comma-separated"},
	{"FABRIC_SERVER_NAME", "(the hostname made a token, when clustering)", "name of a `fabric serve` hub: unique in its NATS system, stable across restarts"},
	{"FABRIC_CLUSTER_NAME", "fabric", "NATS cluster a `fabric serve` hub joins (the same on every server)"},
	{"FABRIC_CLUSTER_LISTEN", "(none: no cluster)", "host:port where `fabric serve` accepts routes from the cluster's other servers (usually port 6222)"},
	{"FABRIC_ROUTES", "(none)", "route URLs of the cluster's servers, comma-separated (nats-route://HOST:6222)"},
	{"FABRIC_LEAF_LISTEN", "(none)", "host:port where `fabric serve` accepts leaf node connections (usually port 7422)"},
	{"FABRIC_LEAF_REMOTES", "(none)", "URLs of a NATS system `fabric serve` joins as a leaf node, comma-separated (nats-leaf://HOST:7422)"},
	{"FABRIC_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
	{"FABRIC_SYNC_BUDGET", "45", "how long an MCP tool call waits for a command before returning its task id (it runs on), seconds"},
	{"FABRIC_MCP_OUTPUT_BYTES", "16384", "bytes of output an MCP tool result shows (head and tail of each stream); task_output gets the rest"},
}

// Lookup reads an environment variable (os.LookupEnv in production).
type Lookup func(name string) (string, bool)

// Reader reads knobs from an environment, collecting every error so that
// all bad variables are reported at once.
type Reader struct {
	lookup Lookup
	errs   []error
}

// NewReader returns a Reader over lookup.
func NewReader(lookup Lookup) *Reader { return &Reader{lookup: lookup} }

// Err returns every error met so far, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *Reader) fail(name, v, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, v, why))
}

// String returns the variable's value, or def.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// List returns the comma-separated values of the variable, or def.
func (r *Reader) List(name string, def []string) []string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Seconds returns the variable as a duration: a number of seconds ("300",
// "0.5") or a Go duration ("5m"). It must be positive.
func (r *Reader) Seconds(name string, def time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := ParseSeconds(v)
	if err != nil {
		r.fail(name, v, err.Error())
		return def
	}
	return d
}

// ParseSeconds parses a number of seconds or a Go duration; it must be
// positive.
func ParseSeconds(v string) (time.Duration, error) {
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, errors.New("want a number of seconds or a duration like 30s or 5m")
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// Float returns the variable as a non-negative number.
func (r *Reader) Float(name string, def float64) float64 {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		r.fail(name, v, "want a non-negative number")
		return def
	}
	return f
}

// Int returns the variable as an integer of at least min.
func (r *Reader) Int(name string, def, min int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		r.fail(name, v, fmt.Sprintf("want a whole number of at least %d", min))
		return def
	}
	return n
}

// Bool returns the variable as a boolean (1/0, true/false, yes/no, on/off).
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	r.fail(name, v, "want true or false")
	return def
}

// OneOf returns the variable, which must be one of choices, or def.
func (r *Reader) OneOf(name, def string, choices ...string) string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	for _, c := range choices {
		if strings.EqualFold(v, c) {
			return c
		}
	}
	r.fail(name, v, "want one of "+strings.Join(choices, ", "))
	return def
}
