package auth

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Client is how a fabric client (front end or node) authenticates to NATS.
// At most one of Creds, NKeySeed, User and Token may be set.
type Client struct {
	// Creds is a .creds file (a user JWT and its seed: NATS deployments in
	// operator mode).
	Creds string
	// NKeySeed is an nkey seed file, as `fabric init` writes.
	NKeySeed string
	// User and Password authenticate by name.
	User, Password string
	// Token is a shared secret.
	Token string
	// TLSCA is the authority the server's certificate must chain to.
	TLSCA string
	// TLSCert and TLSKey are a client certificate, for servers that verify
	// clients.
	TLSCert, TLSKey string
}

// Options returns the nats.go options for c.
func (c Client) Options() ([]nats.Option, error) {
	n := 0
	for _, s := range []string{c.Creds, c.NKeySeed, c.User, c.Token} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("auth: give one of a creds file, an nkey seed, a user or a token")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("auth: a client certificate needs both its cert and its key")
	}
	var opts []nats.Option
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.NKeySeed != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("auth: nkey seed %s: %w", c.NKeySeed, err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}
