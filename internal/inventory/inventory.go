// Package inventory reads fabric's optional config file: the machines that run
// no worker and are reached over SSH, and room for per-node settings.
//
// The file is YAML:
//
//	nodes:
//	  - name: nas
//	    host: nas.local
//	    addresses: [10.0.0.20]
//	    port: 22
//	    user: marc
//	    identity_file: ~/.ssh/id_ed25519
//	    os: linux
//	    arch: amd64
//	    capabilities: [raid]
//	    slots: 2
//
// Reading is strict: an unknown key is an error, and an invalid entry is
// reported with the file, the line and the reason, for example
//
//	fabric.yaml:7: node "nas": capability "Raid Disk" is not a valid token
package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fabric-run/fabric/internal/guard"
)

// File is the layout of the config file. Fields are added here as the file
// grows (per-node policy, for one); every top-level key must have a field.
type File struct {
	// Nodes are the machines reached over SSH.
	Nodes []Node `yaml:"nodes"`
	// Policy is this machine's command policy (its node and its front end
	// apply it): allow-list mode, deny-list additions, power commands.
	Policy guard.Policy `yaml:"policy"`
	// GPUs is how many GPU devices this machine's node hands out, one
	// task per device; absent, it counts them with `nvidia-smi -L`.
	GPUs *int `yaml:"gpus"`
	// Limits caps, per capability, the tasks needing it that this
	// machine's node runs at once.
	Limits Limits `yaml:"limits"`
}

// Inventory is a config file as read: its contents and where they came from.
type Inventory struct {
	File
	// Path is the file the inventory was read from; empty when there was
	// none (no file at the default path).
	Path string
}

// Node returns the node named name.
func (inv *Inventory) Node(name string) (Node, bool) {
	for _, n := range inv.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// DefaultPath returns where the config file lives unless told otherwise:
// os.UserConfigDir()/fabric/config.yaml (~/.config/fabric/config.yaml on
// Linux, ~/Library/Application Support/fabric/config.yaml on macOS).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("inventory: default path: %w", err)
	}
	return filepath.Join(dir, "fabric", "config.yaml"), nil
}

// Load reads and checks the config file at path. An empty path means
// DefaultPath; a missing file there is no error and gives an empty
// inventory, while a missing file named explicitly (even the default one
// spelled out) is an error.
func Load(path string) (*Inventory, error) {
	explicit := path != ""
	if !explicit {
		p, err := DefaultPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &Inventory{}, nil
		}
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a config file's contents; name is the file name used in error
// messages ("fabric.yaml:7: ...") and recorded as the inventory's Path. Empty
// contents give an empty inventory.
func Parse(name string, data []byte) (*Inventory, error) {
	inv := &Inventory{Path: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&inv.File)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fileError(name, err)
	}
	if err := checkNodes(inv.Nodes); err != nil {
		return nil, fileError(name, err)
	}
	if inv.GPUs != nil && *inv.GPUs < 0 {
		return nil, fmt.Errorf("%s: gpus: %d: want 0 (none) or more", name, *inv.GPUs)
	}
	if _, err := guard.New(inv.Policy); err != nil {
		return nil, fmt.Errorf("%s: policy: %w", name, err)
	}
	return inv, nil
}

// lineError is an error at a line of the file being read; Parse prefixes it
// with the file name.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return "line " + strconv.Itoa(e.line) + ": " + e.msg }

func errorAt(line int, format string, args ...any) error {
	return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
}

// fileError turns what the decoder or the checks said into
// "file:line: reason" lines.
func fileError(name string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Errorf("%s:%d: %s", name, le.line, le.msg)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = name + ":" + rewriteDecoderMessage(m)
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	// Syntax errors read "yaml: line 3: did not find expected key".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, reason, ok := strings.Cut(rest, ": "); ok {
			return fmt.Errorf("%s:%s: %s", name, n, reason)
		}
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// rewriteDecoderMessage turns one of yaml.v3's "line N: ..." messages into
// "N: reason", naming unknown keys plainly.
func rewriteDecoderMessage(m string) string {
	rest := strings.TrimPrefix(m, "line ")
	n, reason, ok := strings.Cut(rest, ": ")
	if !ok {
		return " " + m
	}
	// "field policy not found in type inventory.File"
	if f, ok := strings.CutPrefix(reason, "field "); ok {
		if key, _, ok := strings.Cut(f, " not found in type "); ok {
			reason = fmt.Sprintf("unknown key %q", key)
		}
	}
	return n + ": " + reason
}
