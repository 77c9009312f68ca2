package inventory

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Defaults for the optional fields of a node entry.
const (
	DefaultPort  = 22
	DefaultSlots = 2
)

// Node is a machine that runs no worker and is reached over SSH. Parse
// checks and normalises every field; a Node from an Inventory is valid.
type Node struct {
	// Name is the node's id in fabric: a subject token ([a-z0-9_-]).
	Name string `yaml:"name"`
	// Host is the name (or address) to connect to; it is resolved first.
	Host string `yaml:"host"`
	// Addresses are fallback IP addresses, tried after Host's own.
	Addresses []string `yaml:"addresses"`
	// Port is the SSH port (default 22).
	Port int `yaml:"port"`
	// User is the login name; empty means the front end's SSH user.
	User string `yaml:"user"`
	// IdentityFile is a private key to offer first, with "~" expanded.
	IdentityFile string `yaml:"identity_file"`
	// OS and Arch are Go's names (linux, darwin; amd64, arm64). Empty means
	// unknown: allowed, but then no requirement on them matches.
	OS   string `yaml:"os"`
	Arch string `yaml:"arch"`
	// Capabilities are what the node offers beyond its OS and arch
	// (docker, gpu, raid ...), lowercased, without duplicates.
	Capabilities []string `yaml:"capabilities"`
	// Slots is how many tasks may run on the node at once (default 2).
	Slots int `yaml:"slots"`
	// Line is where the entry starts in its file (0 when not read from one).
	Line int `yaml:"-"`
}

// Satisfies reports whether the node meets r. A node whose OS or arch is
// unknown meets no requirement on it; every node has the "any" capability.
func (n Node) Satisfies(r wire.Requirements) bool {
	if r.Node != "" && r.Node != n.Name {
		return false
	}
	if r.OS != "" && (n.OS == "" || n.OS != r.OS) {
		return false
	}
	if r.Arch != "" && (n.Arch == "" || n.Arch != r.Arch) {
		return false
	}
	for _, c := range r.Capabilities {
		if c != subjects.AnyCapability && !slices.Contains(n.Capabilities, c) {
			return false
		}
	}
	return true
}

// UnmarshalYAML implements yaml.Unmarshaler: it reads one node entry
// strictly, checks every field and fills in the defaults. Errors carry the
// line of the offending value.
func (n *Node) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind != yaml.MappingNode {
		return errorAt(value.Line, "node entry: want a mapping (name: ..., host: ...), got %s", kindName(value))
	}
	*n = Node{Line: value.Line}
	label := "node entry"
	for i := 0; i+1 < len(value.Content); i += 2 {
		if k, v := value.Content[i], deref(value.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode {
			label = fmt.Sprintf("node %q", v.Value)
		}
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(value.Content); i += 2 {
		k, v := value.Content[i], deref(value.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			return errorAt(k.Line, "%s: key %q appears twice (first at line %d)", label, k.Value, first)
		}
		seen[k.Value] = k.Line
		var err error
		switch k.Value {
		case "name":
			err = n.setName(v)
		case "host":
			err = n.setHost(label, v)
		case "addresses":
			err = n.setAddresses(label, v)
		case "port":
			err = n.setPort(label, v)
		case "user":
			n.User, err = scalar(label, "user", v)
		case "identity_file":
			err = n.setIdentityFile(label, v)
		case "os":
			n.OS, err = normalized(label, "os", v, subjects.NormalizeOS)
		case "arch":
			n.Arch, err = normalized(label, "arch", v, subjects.NormalizeArch)
		case "capabilities":
			err = n.setCapabilities(label, v)
		case "slots":
			err = n.setSlots(label, v)
		default:
			err = errorAt(k.Line, "%s: unknown key %q", label, k.Value)
		}
		if err != nil {
			return err
		}
	}
	if n.Name == "" {
		return errorAt(value.Line, "node entry: name is required")
	}
	if n.Host == "" {
		return errorAt(value.Line, "%s: host is required", label)
	}
	// setPort and setSlots accept no zero: zero means the key was not given.
	if n.Port == 0 {
		n.Port = DefaultPort
	}
	if n.Slots == 0 {
		n.Slots = DefaultSlots
	}
	return nil
}

func (n *Node) setName(v *yaml.Node) error {
	s, err := scalar("node entry", "name", v)
	if err != nil {
		return err
	}
	if subjects.ValidToken(s) != nil {
		return errorAt(v.Line, "node entry: name %q is not a valid token", s)
	}
	n.Name = s
	return nil
}

func (n *Node) setHost(label string, v *yaml.Node) error {
	s, err := scalar(label, "host", v)
	if err != nil {
		return err
	}
	if s == "" || strings.ContainsFunc(s, isSpace) {
		return errorAt(v.Line, "%s: host %q is not a host name or address", label, s)
	}
	n.Host = s
	return nil
}

func (n *Node) setAddresses(label string, v *yaml.Node) error {
	items, err := list(label, "addresses", v)
	if err != nil {
		return err
	}
	for _, it := range items {
		it = deref(it)
		s, err := scalar(label, "address", it)
		if err != nil {
			return err
		}
		a, perr := netip.ParseAddr(s)
		if perr != nil {
			return errorAt(it.Line, "%s: address %q is not an IP address", label, s)
		}
		n.Addresses = append(n.Addresses, a.String())
	}
	return nil
}

func (n *Node) setPort(label string, v *yaml.Node) error {
	var p int
	if v.Kind != yaml.ScalarNode || v.Decode(&p) != nil {
		return errorAt(v.Line, "%s: port: want a number from 1 to 65535, got %s", label, describe(v))
	}
	if p < 1 || p > 65535 {
		return errorAt(v.Line, "%s: port %d is out of range 1..65535", label, p)
	}
	n.Port = p
	return nil
}

func (n *Node) setSlots(label string, v *yaml.Node) error {
	var s int
	if v.Kind != yaml.ScalarNode || v.Decode(&s) != nil {
		return errorAt(v.Line, "%s: slots: want a whole number, got %s", label, describe(v))
	}
	if s < 1 {
		return errorAt(v.Line, "%s: slots must be at least 1, got %d", label, s)
	}
	n.Slots = s
	return nil
}

func (n *Node) setIdentityFile(label string, v *yaml.Node) error {
	s, err := scalar(label, "identity_file", v)
	if err != nil || s == "" {
		return err
	}
	if s == "~" || strings.HasPrefix(s, "~/") {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return errorAt(v.Line, "%s: identity_file %q: cannot expand ~: %v", label, s, herr)
		}
		s = filepath.Join(home, strings.TrimPrefix(s, "~"))
	} else if strings.HasPrefix(s, "~") {
		return errorAt(v.Line, "%s: identity_file %q: only ~/ (your own home) is expanded", label, s)
	}
	n.IdentityFile = s
	return nil
}

func (n *Node) setCapabilities(label string, v *yaml.Node) error {
	items, err := list(label, "capabilities", v)
	if err != nil {
		return err
	}
	for _, it := range items {
		it = deref(it)
		c, err := normalized(label, "capability", it, subjects.NormalizeCapability)
		if err != nil {
			return err
		}
		if !slices.Contains(n.Capabilities, c) {
			n.Capabilities = append(n.Capabilities, c)
		}
	}
	return nil
}

// checkNodes checks what no single entry can: that names are unique.
func checkNodes(nodes []Node) error {
	first := make(map[string]int, len(nodes))
	for _, n := range nodes {
		if line, dup := first[n.Name]; dup {
			return errorAt(n.Line, "node %q: name already used by the node at line %d", n.Name, line)
		}
		first[n.Name] = n.Line
	}
	return nil
}

// scalar reads a string value; null reads as "".
func scalar(label, key string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", errorAt(v.Line, "%s: %s: want a single value, got %s", label, key, kindName(v))
	}
	if v.Tag == "!!null" {
		return "", nil
	}
	return v.Value, nil
}

// normalized reads a token through norm; empty stays empty.
func normalized(label, key string, v *yaml.Node, norm func(string) (string, error)) (string, error) {
	s, err := scalar(label, key, v)
	if err != nil || s == "" {
		return "", err
	}
	t, nerr := norm(s)
	if nerr != nil {
		return "", errorAt(v.Line, "%s: %s %q is not a valid token", label, key, s)
	}
	return t, nil
}

// list reads a sequence; null reads as empty.
func list(label, key string, v *yaml.Node) ([]*yaml.Node, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, errorAt(v.Line, "%s: %s: want a list like [a, b], got %s", label, key, kindName(v))
	}
	return v.Content, nil
}

// deref follows YAML aliases (*name) to the node they stand for.
func deref(v *yaml.Node) *yaml.Node {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	return v
}

func kindName(v *yaml.Node) string {
	switch v.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return describe(v)
}

func describe(v *yaml.Node) string {
	if v.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", v.Value)
	}
	return kindName(v)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
