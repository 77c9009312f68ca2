package deploy

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"

	"github.com/fabric-run/fabric/internal/auth"
	"github.com/fabric-run/fabric/internal/cli"
	"github.com/fabric-run/fabric/internal/config"
	"github.com/fabric-run/fabric/internal/inventory"
)

// composeFile is what the tests read of compose.yaml.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string      `yaml:"image"`
	Build       *build      `yaml:"build"`
	Entrypoint  argv        `yaml:"entrypoint"`
	Command     argv        `yaml:"command"`
	Environment environment `yaml:"environment"`
	Volumes     []string    `yaml:"volumes"`
	Ports       []string    `yaml:"ports"`
	Profiles    []string    `yaml:"profiles"`
}

type build struct {
	Context string `yaml:"context"`
	Target  string `yaml:"target"`
}

// argv is a command in compose's list form. The string form would be split
// by a shell, so it is refused: the test must see the words the program
// gets.
type argv []string

func (a *argv) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: write commands in the list form [\"prog\", \"arg\", ...], which this test can check", n.Line)
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*a = s
	return nil
}

// environment is compose's environment in either form: a mapping, or a list
// of KEY=value.
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	m := map[string]string{}
	switch n.Kind {
	case yaml.MappingNode:
		if err := n.Decode(&m); err != nil {
			return err
		}
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a mapping or a list", n.Line)
	}
	*e = m
	return nil
}

func readCompose(t *testing.T) *composeFile {
	t.Helper()
	b, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return &c
}

// knownEnv reports whether name is a FABRIC_* variable of config.Knobs.
func knownEnv(name string) bool {
	return slices.ContainsFunc(config.Knobs, func(k config.Knob) bool { return k.Env == name })
}

// checkFabricArgv checks a fabric or fabric-node command line against the
// programs' command trees.
func checkFabricArgv(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no command: the image's default would run, which this test cannot see")
	}
	switch prog := path.Base(args[0]); prog {
	case "fabric":
		return cli.Lookup(args[1:])
	case "fabric-node":
		return cli.LookupNode(args[1:])
	default:
		return fmt.Errorf("program %q: want fabric or fabric-node", args[0])
	}
}

// fabricArgv is the command line a service of the fabric image runs:
// entrypoint then command, without the tini in front.
func fabricArgv(s service) []string {
	a := append(append([]string(nil), s.Entrypoint...), s.Command...)
	if len(a) >= 2 && path.Base(a[0]) == "tini" && a[1] == "--" {
		a = a[2:]
	}
	return a
}

func isFabricImage(s service) bool {
	return s.Build != nil && s.Build.Target == "runtime"
}

// TestComposeFabricCommandLines: every fabric and fabric-node command line
// in compose.yaml parses with the real command tree.
func TestComposeFabricCommandLines(t *testing.T) {
	c := readCompose(t)
	n := 0
	for name, s := range c.Services {
		if !isFabricImage(s) {
			continue
		}
		n++
		if s.Image != "fabric:dev" {
			t.Errorf("service %s: image %q, want fabric:dev (one image for every fabric service)", name, s.Image)
		}
		if err := checkFabricArgv(fabricArgv(s)); err != nil {
			t.Errorf("service %s: %q: %v", name, fabricArgv(s), err)
		}
		if s.Environment["FABRIC_SERVER"] == "" {
			t.Errorf("service %s: no FABRIC_SERVER", name)
		}
	}
	if n < 4 {
		t.Fatalf("%d services run the fabric image, want three nodes and the front end", n)
	}

	// The check is not vacuous: a renamed flag or command fails it.
	node := fabricArgv(c.Services["node-ci"])
	renamed := slices.Clone(node)
	renamed[slices.Index(renamed, "--caps")] = "--capabilities"
	if err := checkFabricArgv(renamed); err == nil {
		t.Errorf("%q passed the check", renamed)
	}
	front := fabricArgv(c.Services["fabric"])
	if err := checkFabricArgv(append(slices.Clone(front[:1]), "statuses")); err == nil {
		t.Error("an unknown fabric command passed the check")
	}
}

// TestComposeNodesDiffer: the three nodes have distinct names and
// capabilities, and stop more slowly than they drain.
func TestComposeNodesDiffer(t *testing.T) {
	c := readCompose(t)
	names, caps := map[string]bool{}, map[string]bool{}
	for svc, s := range c.Services {
		a := fabricArgv(s)
		if !isFabricImage(s) || len(a) == 0 || path.Base(a[0]) != "fabric-node" {
			continue
		}
		name, cp := flagValue(a, "--name"), flagValue(a, "--caps")
		if name == "" || cp == "" || names[name] || caps[cp] {
			t.Errorf("service %s: --name %q --caps %q: want a name and capabilities of its own", svc, name, cp)
		}
		names[name], caps[cp] = true, true
	}
	if len(names) != 3 {
		t.Errorf("%d nodes, want 3", len(names))
	}
}

func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestComposeEnvironment: every FABRIC_* variable compose.yaml sets is one
// fabric reads, and FABRIC_SERVER names the compose file's NATS servers.
func TestComposeEnvironment(t *testing.T) {
	c := readCompose(t)
	for name, s := range c.Services {
		for k, v := range s.Environment {
			if !strings.HasPrefix(k, "FABRIC_") {
				continue
			}
			if !knownEnv(k) {
				t.Errorf("service %s: %s is not a variable fabric reads (config.Knobs)", name, k)
			}
			if k == "FABRIC_SERVER" {
				checkServers(t, c, name, v)
			}
		}
	}
	if knownEnv("FABRIC_NOPE") {
		t.Fatal("knownEnv accepts anything")
	}
	// The config file compose.yaml gives the front end (FABRIC_CONFIG,
	// checked above) has its flag too.
	if err := cli.Lookup([]string{"nodes", "--config", "/etc/fabric/config.yaml"}); err != nil {
		t.Errorf("the config-file flag of FABRIC_CONFIG: %v", err)
	}
}

// checkServers checks that each URL of a FABRIC_SERVER value is
// nats://SERVICE:4222 for a NATS service of the compose file.
func checkServers(t *testing.T, c *composeFile, svc, value string) {
	t.Helper()
	for _, raw := range strings.Split(value, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Scheme != "nats" || u.Port() != "4222" {
			t.Errorf("service %s: FABRIC_SERVER URL %q: want nats://SERVICE:4222", svc, raw)
			continue
		}
		if s, ok := c.Services[u.Hostname()]; !ok || !strings.HasPrefix(s.Image, "nats:") {
			t.Errorf("service %s: FABRIC_SERVER names %q, which is not a NATS service of compose.yaml", svc, u.Hostname())
		}
	}
}

// hostPath maps a container path to the file compose.yaml mounts there.
func hostPath(s service, inContainer string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == inContainer && strings.HasPrefix(parts[0], "./") {
			return filepath.Join("..", parts[0]), true
		}
	}
	return "", false
}

// TestComposeNATSCluster: three NATS servers, from the official image, whose
// configuration (as nats-server reads it) forms one cluster with JetStream
// on, with the users and permissions fabric init writes (the auth volume).
func TestComposeNATSCluster(t *testing.T) {
	c := readCompose(t)
	var servers []string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			servers = append(servers, name)
		}
	}
	slices.Sort(servers)
	if len(servers) != 3 {
		t.Fatalf("NATS servers %v, want 3", servers)
	}
	// The servers' configuration directory, with what the compose "auth"
	// service writes into the auth volume mounted in it.
	etc := t.TempDir()
	if _, err := auth.Init(filepath.Join(etc, "auth"), auth.InitOptions{Server: "nats://nats1:4222"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range servers {
		s := c.Services[name]
		conf, ok := hostPath(s, flagValue(s.Command, "--config"))
		if !ok {
			t.Fatalf("service %s: its --config file %q is not mounted from the repository", name, flagValue(s.Command, "--config"))
		}
		if !slices.Contains(s.Volumes, "auth:/etc/nats/auth:ro") {
			t.Errorf("service %s: the auth volume is not mounted beside its configuration", name)
		}
		t.Setenv("SERVER_NAME", s.Environment["SERVER_NAME"])
		b, _ := os.ReadFile(conf)
		if !bytes.Contains(b, []byte("include auth/nats-auth.conf")) {
			t.Fatalf("%s: does not include the roles fabric init writes", conf)
		}
		local := filepath.Join(etc, "fabric.conf")
		os.WriteFile(local, b, 0o600)
		opts, err := server.ProcessConfigFile(local)
		if err != nil {
			t.Fatalf("service %s: %s: %v", name, conf, err)
		}
		if opts.ServerName != name || !opts.JetStream || opts.Cluster.Name == "" || opts.Cluster.Port != 6222 || opts.Port != 4222 {
			t.Errorf("service %s: server name %q, JetStream %v, cluster %q on %d, clients on %d",
				name, opts.ServerName, opts.JetStream, opts.Cluster.Name, opts.Cluster.Port, opts.Port)
		}
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Hostname())
		}
		slices.Sort(routes)
		if !slices.Equal(routes, servers) {
			t.Errorf("service %s: routes to %v, want every server %v", name, routes, servers)
		}
		if opts.MaxPayload < 8<<20 {
			t.Errorf("service %s: max_payload %d, want 8 MB like the embedded hub", name, opts.MaxPayload)
		}
		if len(opts.Nkeys) != 3 {
			t.Errorf("service %s: %d nkey users, want the three roles", name, len(opts.Nkeys))
		}
	}
}

// TestComposeSSHOnlyMachine: the front end's inventory names the sshd
// service, which runs no node and publishes no port, with a key the front
// end has mounted.
func TestComposeSSHOnlyMachine(t *testing.T) {
	c := readCompose(t)
	fe := c.Services["fabric"]
	file, ok := hostPath(fe, fe.Environment["FABRIC_CONFIG"])
	if !ok {
		t.Fatalf("service fabric: FABRIC_CONFIG=%q is not a file mounted from the repository", fe.Environment["FABRIC_CONFIG"])
	}
	// Read as fabric reads it: strictly, every entry checked.
	inv, err := inventory.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) == 0 {
		t.Fatalf("%s: no nodes", file)
	}
	for _, n := range inv.Nodes {
		s, ok := c.Services[n.Host]
		if !ok {
			t.Errorf("%s: node %s: host %q is not a compose service", file, n.Name, n.Host)
			continue
		}
		if isFabricImage(s) || len(s.Ports) > 0 {
			t.Errorf("%s: node %s: service %s should run no node and publish no port", file, n.Name, n.Host)
		}
		if n.Name == "" || n.User == "" || n.OS == "" {
			t.Errorf("%s: node %+v: want name, user and os", file, n)
		}
		mounted := slices.ContainsFunc(fe.Volumes, func(v string) bool {
			parts := strings.Split(v, ":")
			return len(parts) >= 2 && strings.HasPrefix(n.IdentityFile, parts[1]+"/")
		})
		if !mounted {
			t.Errorf("%s: node %s: identity_file %s is not in a volume of the fabric service", file, n.Name, n.IdentityFile)
		}
	}
}

// TestDockerfile: the stages compose.yaml builds exist; the runtime is a
// non-root image with bash (tasks run under bash) and static binaries of
// both programs, built with the Go of go.mod.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	stages := map[string]string{} // name → its instructions
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.EqualFold(f[0], "FROM") && strings.EqualFold(f[2], "AS") {
			cur = f[3]
		}
		if cur != "" {
			stages[cur] += line + "\n"
		}
	}
	for name, s := range readCompose(t).Services {
		if s.Build != nil && stages[s.Build.Target] == "" {
			t.Errorf("service %s builds target %q, which the Dockerfile lacks", name, s.Build.Target)
		}
	}
	rt := stages["runtime"]
	for _, want := range []string{"bash", "tini", "USER fabric", "COPY --from=build /out/fabric /out/fabric-node /usr/local/bin/"} {
		if !strings.Contains(rt, want) {
			t.Errorf("runtime stage lacks %q", want)
		}
	}
	bs := stages["build"]
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/fabric", "./cmd/node"} {
		if !strings.Contains(bs, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := ""
	for _, line := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			goVersion = strings.TrimSpace(v)
		}
	}
	if !strings.Contains(text, "ARG GO_VERSION="+goVersion+"\n") {
		t.Errorf("Dockerfile does not build with go %s (go.mod)", goVersion)
	}
}
