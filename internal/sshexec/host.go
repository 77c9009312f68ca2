package sshexec

import (
	"fmt"
	"net"
	"strconv"

	"github.com/fabric-run/fabric/internal/inventory"
)

// Host is a machine reached over SSH.
type Host struct {
	// Name is the node's id in fabric; results carry it. Default: Host.
	Name string
	// Host is the name or address to connect to. It is what known_hosts
	// records, whichever address the connection went to.
	Host string
	// Addresses are fallback IP addresses, tried after Host's own.
	Addresses []string
	// Port is the SSH port. Default 22.
	Port int
	// User is the login name. Default: the pool's Config.User.
	User string
	// IdentityFile is a private key offered before the pool's keys.
	IdentityFile string
}

// HostFromNode returns the SSH host of an inventory node.
func HostFromNode(n inventory.Node) Host {
	return Host{
		Name:         n.Name,
		Host:         n.Host,
		Addresses:    append([]string(nil), n.Addresses...),
		Port:         n.Port,
		User:         n.User,
		IdentityFile: n.IdentityFile,
	}
}

// target renders "user@host:port".
func (h Host) target() string {
	return h.User + "@" + h.hostPort()
}

// hostPort is the address known_hosts is checked against.
func (h Host) hostPort() string {
	return net.JoinHostPort(h.Host, strconv.Itoa(h.Port))
}

// key identifies the pooled connection of h.
func (h Host) key() string {
	return h.Name + "\x00" + h.target() + "\x00" + h.IdentityFile
}

// complete fills in h's defaults from the pool's config and checks it.
func (h Host) complete(cfg *Config) (Host, error) {
	if h.Host == "" {
		return h, fmt.Errorf("sshexec: host %q: no host name or address", h.Name)
	}
	if h.Name == "" {
		h.Name = h.Host
	}
	if h.Port == 0 {
		h.Port = 22
	}
	if h.Port < 0 || h.Port > 65535 {
		return h, fmt.Errorf("sshexec: host %s: port %d out of range", h.Name, h.Port)
	}
	if h.User == "" {
		h.User = cfg.User
	}
	for _, a := range h.Addresses {
		if net.ParseIP(a) == nil {
			return h, fmt.Errorf("sshexec: host %s: fallback address %q is not an IP address", h.Name, a)
		}
	}
	return h, nil
}
