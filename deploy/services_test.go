package deploy

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fabric-run/fabric/internal/cli"
	"github.com/fabric-run/fabric/internal/worker"
)

// unitDirectives reads a systemd unit into section.Key → values.
func unitDirectives(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q: not KEY=value", file, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestSystemdUnit: the unit runs fabric-node with a valid command line, as
// a dedicated user, restarts it on failure, and stops it by SIGTERM to the
// node alone, waiting longer than the drain grace.
func TestSystemdUnit(t *testing.T) {
	u := unitDirectives(t, "systemd/fabric-node.service")
	one := func(key string) string {
		t.Helper()
		if len(u[key]) != 1 {
			t.Fatalf("%s: %d values, want 1", key, len(u[key]))
		}
		return u[key][0]
	}
	exec := strings.Fields(one("Service.ExecStart"))
	if exec[0] != "/usr/local/bin/fabric-node" {
		t.Errorf("ExecStart runs %s, want /usr/local/bin/fabric-node", exec[0])
	}
	if err := cli.LookupNode(exec[1:]); err != nil {
		t.Errorf("ExecStart %q: %v", exec, err)
	}
	want := map[string]string{
		"Service.EnvironmentFile": "-/etc/fabric/node.env",
		"Service.Restart":         "on-failure",
		"Service.KillSignal":      "SIGTERM",
		"Service.KillMode":        "mixed", // SIGTERM to the node only: it drains its tasks
		"Service.User":            "fabric",
		"Install.WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if got := one(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	stop, err := time.ParseDuration(one("Service.TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if stop <= worker.DefaultDrainGrace+5*time.Second {
		t.Errorf("TimeoutStopSec %s leaves no room after the drain grace %s", stop, worker.DefaultDrainGrace)
	}
	for _, breaks := range []string{"PrivateDevices", "MemoryDenyWriteExecute", "RestrictNamespaces", "ProtectHome"} {
		if _, set := u["Service."+breaks]; set {
			t.Errorf("Service.%s is set: it breaks builds (GPUs, JITs, rootless containers, source trees in /home)", breaks)
		}
	}
}

// TestNodeEnvExample: every variable the example environment file sets, or
// shows commented out, is one fabric reads.
func TestNodeEnvExample(t *testing.T) {
	b, err := os.ReadFile("systemd/node.env.example")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		k, _, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "FABRIC_") || strings.Contains(k, " ") {
			continue
		}
		n++
		if !knownEnv(k) {
			t.Errorf("node.env.example:%d: %s is not a variable fabric reads (config.Knobs)", i+1, k)
		}
	}
	if n < 3 {
		t.Errorf("node.env.example shows %d variables, want at least FABRIC_SERVER and a few more", n)
	}
}

// plistValue is a value of a property list: a string, integer, bool, array
// or dict.
type plistValue struct {
	Kind  string
	Text  string
	Items []plistValue          // array
	Dict  map[string]plistValue // dict
}

func (v *plistValue) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	v.Kind = start.Name.Local
	switch v.Kind {
	case "true", "false":
		return d.Skip()
	case "array":
		return eachChild(d, func(item plistValue) error {
			v.Items = append(v.Items, item)
			return nil
		})
	case "dict":
		v.Dict = map[string]plistValue{}
		key := ""
		return eachChild(d, func(item plistValue) error {
			if item.Kind == "key" {
				key = item.Text
				return nil
			}
			if key == "" {
				return fmt.Errorf("plist: a %s with no key", item.Kind)
			}
			v.Dict[key], key = item, ""
			return nil
		})
	default:
		return d.DecodeElement(&v.Text, &start)
	}
}

// eachChild decodes each child element of the element being read, up to
// its end, and passes it to f.
func eachChild(d *xml.Decoder, f func(plistValue) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			var item plistValue
			if err := item.UnmarshalXML(d, tok); err != nil {
				return err
			}
			if err := f(item); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// TestLaunchdAgent: the agent runs fabric-node with a valid command line
// and known variables, keeps it alive, logs to a file, and waits longer
// than the drain grace before killing it.
func TestLaunchdAgent(t *testing.T) {
	b, err := os.ReadFile("launchd/dev.fabric.node.plist")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Dict plistValue `xml:"dict"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("plist: %v", err)
	}
	p := doc.Dict.Dict
	if p["Label"].Text != "dev.fabric.node" {
		t.Errorf("Label = %q", p["Label"].Text)
	}
	var args []string
	for _, a := range p["ProgramArguments"].Items {
		args = append(args, a.Text)
	}
	if len(args) == 0 || args[0] != "/usr/local/bin/fabric-node" {
		t.Fatalf("ProgramArguments = %q, want /usr/local/bin/fabric-node first", args)
	}
	if err := cli.LookupNode(args[1:]); err != nil {
		t.Errorf("ProgramArguments %q: %v", args, err)
	}
	env := p["EnvironmentVariables"].Dict
	if env["FABRIC_SERVER"].Text == "" {
		t.Error("no FABRIC_SERVER in EnvironmentVariables")
	}
	for k := range env {
		if strings.HasPrefix(k, "FABRIC_") && !knownEnv(k) {
			t.Errorf("EnvironmentVariables: %s is not a variable fabric reads (config.Knobs)", k)
		}
	}
	if p["KeepAlive"].Kind != "true" || p["RunAtLoad"].Kind != "true" {
		t.Errorf("KeepAlive %s, RunAtLoad %s: want both true", p["KeepAlive"].Kind, p["RunAtLoad"].Kind)
	}
	exit, err := strconv.Atoi(p["ExitTimeOut"].Text)
	if err != nil || time.Duration(exit)*time.Second <= worker.DefaultDrainGrace+5*time.Second {
		t.Errorf("ExitTimeOut %q leaves no room after the drain grace %s", p["ExitTimeOut"].Text, worker.DefaultDrainGrace)
	}
	if !strings.HasSuffix(p["StandardErrorPath"].Text, ".log") {
		t.Errorf("StandardErrorPath = %q, want a log file", p["StandardErrorPath"].Text)
	}
}
