package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fabric-run/fabric/internal/wire"
)

func TestLoadFullFile(t *testing.T) {
	t.Setenv("HOME", "/home/marc")
	path := filepath.Join("testdata", "full", "config.yaml")
	inv, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s) = %v", path, err)
	}
	if inv.Path != path {
		t.Errorf("Path = %q, want %q", inv.Path, path)
	}
	want := []Node{
		{
			Name: "nas", Host: "nas.local", Addresses: []string{"10.0.0.20"}, Port: 22, User: "marc",
			IdentityFile: "/home/marc/.ssh/id_ed25519", OS: "linux", Arch: "amd64",
			Capabilities: []string{"raid"}, Slots: 2, Line: 3,
		},
		{
			Name: "old-mac", Host: "old-mac.local", Addresses: []string{"10.0.0.31", "fd00::31"}, Port: 2222,
			OS: "darwin", Arch: "amd64", Capabilities: []string{"xcode", "swift"}, Slots: DefaultSlots, Line: 14,
		},
		{Name: "pi", Host: "10.0.0.40", Port: DefaultPort, Slots: DefaultSlots, Line: 24},
	}
	if !reflect.DeepEqual(inv.Nodes, want) {
		t.Errorf("Nodes =\n%+v\nwant\n%+v", inv.Nodes, want)
	}
	if n, ok := inv.Node("old-mac"); !ok || n.Port != 2222 {
		t.Errorf("Node(old-mac) = %+v, %v; want the old-mac entry", n, ok)
	}
	if _, ok := inv.Node("nope"); ok {
		t.Errorf("Node(nope) found a node")
	}
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []Node
	}{
		{"empty file", "", nil},
		{"only a comment", "# nothing yet\n", nil},
		{"empty node list", "nodes: []\n", []Node{}},
		{"null node list", "nodes:\n", nil},
		{"minimal entry gets defaults", "nodes:\n  - {name: a, host: a.lan}\n",
			[]Node{{Name: "a", Host: "a.lan", Port: 22, Slots: 2, Line: 2}}},
		{"null fields read as empty", "nodes:\n  - name: a\n    host: h\n    user:\n    os: ~\n    capabilities:\n",
			[]Node{{Name: "a", Host: "h", Port: 22, Slots: 2, Line: 2}}},
		{"normalised os arch and capabilities", "nodes:\n  - name: m\n    host: m\n    os: Darwin\n    arch: aarch64\n    capabilities: [Docker, GPU, docker]\n",
			[]Node{{Name: "m", Host: "m", Port: 22, Slots: 2, OS: "darwin", Arch: "arm64", Capabilities: []string{"docker", "gpu"}, Line: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse("fabric.yaml", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if !reflect.DeepEqual(inv.Nodes, tt.want) {
				t.Errorf("Nodes = %+v, want %+v", inv.Nodes, tt.want)
			}
		})
	}
}

func TestParseNodeLimitsAndGPUs(t *testing.T) {
	inv, err := Parse("fabric.yaml", []byte("gpus: 2\nlimits: {Docker: 1, gpu: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if inv.GPUs == nil || *inv.GPUs != 2 || !reflect.DeepEqual(inv.Limits, Limits{"docker": 1, "gpu": 1}) {
		t.Fatalf("gpus %v limits %v", inv.GPUs, inv.Limits)
	}
	inv, err = Parse("fabric.yaml", []byte("limits:\n"))
	if err != nil || inv.GPUs != nil || inv.Limits != nil {
		t.Fatalf("nothing set: gpus %v limits %v err %v", inv.GPUs, inv.Limits, err)
	}
}

func TestParseBad(t *testing.T) {
	const head = "nodes:\n  - name: nas\n    host: nas.local\n" // lines 1-3
	tests := []struct {
		name string
		data string
		want string
	}{
		{"capability not a token", head + "    os: linux\n    arch: amd64\n    capabilities: [raid, Raid Disk]\n",
			`fabric.yaml:6: node "nas": capability "Raid Disk" is not a valid token`},
		{"capability list item on its own line", head + "    capabilities:\n      - gpu\n      - a.b\n",
			`fabric.yaml:6: node "nas": capability "a.b" is not a valid token`},
		{"unknown key in entry", head + "    hostname: nas\n",
			`fabric.yaml:4: node "nas": unknown key "hostname"`},
		{"unknown top-level key", "nodes: []\npolicies: {}\n",
			`fabric.yaml:2: unknown key "policies"`},
		{"name missing", "nodes:\n  - host: nas.local\n",
			`fabric.yaml:2: node entry: name is required`},
		{"name not a token", "nodes:\n  - name: Nas Box\n    host: nas.local\n",
			`fabric.yaml:2: node entry: name "Nas Box" is not a valid token`},
		{"duplicate name", head + "  - name: pi\n    host: pi\n  - name: nas\n    host: other\n",
			`fabric.yaml:6: node "nas": name already used by the node at line 2`},
		{"host missing", "nodes:\n  - name: nas\n    port: 22\n",
			`fabric.yaml:2: node "nas": host is required`},
		{"host empty", "nodes:\n  - name: nas\n    host: \"\"\n",
			`fabric.yaml:3: node "nas": host "" is not a host name or address`},
		{"host with space", "nodes:\n  - name: nas\n    host: nas local\n",
			`fabric.yaml:3: node "nas": host "nas local" is not a host name or address`},
		{"port zero", head + "    port: 0\n",
			`fabric.yaml:4: node "nas": port 0 is out of range 1..65535`},
		{"port too big", head + "    port: 70000\n",
			`fabric.yaml:4: node "nas": port 70000 is out of range 1..65535`},
		{"port not a number", head + "    port: ssh\n",
			`fabric.yaml:4: node "nas": port: want a number from 1 to 65535, got "ssh"`},
		{"slots zero", head + "    slots: 0\n",
			`fabric.yaml:4: node "nas": slots must be at least 1, got 0`},
		{"slots not a number", head + "    slots: many\n",
			`fabric.yaml:4: node "nas": slots: want a whole number, got "many"`},
		{"os not a token", head + "    os: Plan 9\n",
			`fabric.yaml:4: node "nas": os "Plan 9" is not a valid token`},
		{"arch not a token", head + "    arch: x86/64\n",
			`fabric.yaml:4: node "nas": arch "x86/64" is not a valid token`},
		{"address not an IP", head + "    addresses: [10.0.0.20, nas.lan]\n",
			`fabric.yaml:4: node "nas": address "nas.lan" is not an IP address`},
		{"addresses not a list", head + "    addresses: 10.0.0.20\n",
			`fabric.yaml:4: node "nas": addresses: want a list like [a, b], got "10.0.0.20"`},
		{"identity file of another user", head + "    identity_file: ~bob/.ssh/id\n",
			`fabric.yaml:4: node "nas": identity_file "~bob/.ssh/id": only ~/ (your own home) is expanded`},
		{"user is a list", head + "    user: [a]\n",
			`fabric.yaml:4: node "nas": user: want a single value, got a list`},
		{"key twice", head + "    port: 22\n    port: 23\n",
			`fabric.yaml:5: node "nas": key "port" appears twice (first at line 4)`},
		{"entry not a mapping", "nodes:\n  - nas\n",
			`fabric.yaml:2: node entry: want a mapping (name: ..., host: ...), got "nas"`},
		{"nodes not a list", "nodes: nas\n",
			"fabric.yaml:1: cannot unmarshal !!str `nas` into []inventory.Node"},
		{"syntax error", "nodes:\n  - name: a\n    host: b: c\n",
			`fabric.yaml:3: mapping values are not allowed in this context`},
		{"limit zero", "limits:\n  docker: 0\n",
			`fabric.yaml:2: limits: docker: want a whole number of at least 1, got "0"`},
		{"limit not a number", "limits: {docker: 1, gpu: one}\n",
			`fabric.yaml:1: limits: gpu: want a whole number of at least 1, got "one"`},
		{"limit on no capability", "limits:\n  docker: 1\n  Big Box: 2\n",
			`fabric.yaml:3: limits: capability "Big Box" is not a valid token`},
		{"limit twice", "limits:\n  docker: 1\n  Docker: 2\n",
			`fabric.yaml:3: limits: docker appears twice`},
		{"limits a list", "limits: [docker]\n",
			`fabric.yaml:1: limits: want a mapping like {docker: 1}, got a list`},
		{"gpus negative", "gpus: -1\n",
			`fabric.yaml: gpus: -1: want 0 (none) or more`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse("fabric.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse = %+v, nil; want error %q", inv.Nodes, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error =\n  %s\nwant\n  %s", err, tt.want)
			}
		})
	}
}

func TestParseFollowsAliases(t *testing.T) {
	data := "nodes:\n  - name: a\n    host: a\n    capabilities: &caps [gpu, docker]\n  - name: b\n    host: b\n    capabilities: *caps\n"
	inv, err := Parse("f.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if got := inv.Nodes[1].Capabilities; !reflect.DeepEqual(got, []string{"gpu", "docker"}) {
		t.Errorf("b capabilities = %v, want [gpu docker]", got)
	}
}

func TestLoadMissing(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	inv, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\") with no file at the default path = %v, want an empty inventory", err)
	}
	if len(inv.Nodes) != 0 || inv.Path != "" {
		t.Errorf("Load(\"\") = %+v, want empty", inv)
	}

	def, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(def); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%s) named explicitly = %v, want a not-exist error", def, err)
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := Load(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%s) = %v, want a not-exist error", missing, err)
	}
}

func TestLoadDefaultPath(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", t.TempDir())
	def, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cfg, "fabric", "config.yaml"); def != want {
		t.Fatalf("DefaultPath() = %s, want %s", def, want)
	}
	if err := os.MkdirAll(filepath.Dir(def), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, []byte("nodes:\n  - {name: x, host: x}\n  - {name: x, host: y}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load("")
	if want := def + `:3: node "x": name already used by the node at line 2`; err == nil || err.Error() != want {
		t.Errorf("Load(\"\") = %v, want %s", err, want)
	}
}

func TestSatisfies(t *testing.T) {
	mac := Node{Name: "mac", OS: "darwin", Arch: "arm64", Capabilities: []string{"xcode"}}
	unknown := Node{Name: "box"}
	tests := []struct {
		name string
		node Node
		req  wire.Requirements
		want bool
	}{
		{"no requirements", unknown, wire.Requirements{}, true},
		{"os and arch match", mac, wire.Requirements{OS: "darwin", Arch: "arm64"}, true},
		{"os differs", mac, wire.Requirements{OS: "linux"}, false},
		{"unknown os never matches", unknown, wire.Requirements{OS: "linux"}, false},
		{"unknown arch never matches", unknown, wire.Requirements{Arch: "amd64"}, false},
		{"capability present", mac, wire.Requirements{Capabilities: []string{"xcode", "any"}}, true},
		{"capability missing", mac, wire.Requirements{Capabilities: []string{"docker"}}, false},
		{"named node", mac, wire.Requirements{Node: "mac"}, true},
		{"other node", mac, wire.Requirements{Node: "nas"}, false},
	}
	for _, tt := range tests {
		if got := tt.node.Satisfies(tt.req); got != tt.want {
			t.Errorf("%s: %s.Satisfies(%v) = %v, want %v", tt.name, tt.node.Name, tt.req, got, tt.want)
		}
	}
}
