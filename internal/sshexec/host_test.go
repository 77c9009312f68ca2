package sshexec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/inventory"
)

func TestHostFromNode(t *testing.T) {
	n := inventory.Node{
		Name: "nas", Host: "nas.local", Addresses: []string{"127.0.0.20"}, Port: 2222, User: "marc",
		IdentityFile: "/home/marc/.ssh/id_ed25519", OS: "linux", Slots: 2,
	}
	want := Host{Name: "nas", Host: "nas.local", Addresses: []string{"127.0.0.20"}, Port: 2222, User: "marc",
		IdentityFile: "/home/marc/.ssh/id_ed25519"}
	h := HostFromNode(n)
	if !reflect.DeepEqual(h, want) {
		t.Errorf("HostFromNode = %+v, want %+v", h, want)
	}
	h.Addresses[0] = "changed"
	if n.Addresses[0] != "127.0.0.20" {
		t.Errorf("HostFromNode shares the node's address slice")
	}
}

func TestHostComplete(t *testing.T) {
	cfg := &Config{User: "fabric"}
	tests := []struct {
		in   Host
		want Host
		err  string
	}{
		{Host{Host: "box"}, Host{Name: "box", Host: "box", Port: 22, User: "fabric"}, ""},
		{Host{Name: "n", Host: "box", Port: 2200, User: "me"}, Host{Name: "n", Host: "box", Port: 2200, User: "me"}, ""},
		{Host{Name: "n"}, Host{}, "no host name or address"},
		{Host{Host: "box", Port: 70000}, Host{}, "port 70000 out of range"},
		{Host{Host: "box", Addresses: []string{"box.lan"}}, Host{}, `fallback address "box.lan" is not an IP address`},
	}
	for _, tt := range tests {
		got, err := tt.in.complete(cfg)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("complete(%+v) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || !reflect.DeepEqual(got, tt.want)):
			t.Errorf("complete(%+v) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}
