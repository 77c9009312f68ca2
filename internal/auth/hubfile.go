package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"go.yaml.in/yaml/v3"

	"github.com/fabric-run/fabric/subjects"
)

// HubFile is the hub's authentication and TLS setup (`fabric serve --auth`),
// as `fabric init` writes it.
type HubFile struct {
	// Users may connect, each with a role: by nkey (public key), or by name
	// and password (a bcrypt hash, "$2a$...", or plain text).
	Users []User `yaml:"users"`
	// Token, if set, is one shared secret that gives full access (no roles).
	Token string `yaml:"token,omitempty"`
	// TLS, if set, makes the hub speak TLS only.
	TLS *TLSFiles `yaml:"tls,omitempty"`

	dir string // relative paths are read from here
}

// User is one identity allowed on the hub.
type User struct {
	Name     string `yaml:"name"`
	Role     string `yaml:"role"`
	NKey     string `yaml:"nkey,omitempty"`
	Password string `yaml:"password,omitempty"`
}

// TLSFiles are the hub's certificate files.
type TLSFiles struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// CA, with Verify, is the authority client certificates must chain to.
	CA     string `yaml:"ca,omitempty"`
	Verify bool   `yaml:"verify,omitempty"`
}

// LoadHubFile reads and checks a hub auth file.
func LoadHubFile(path string) (*HubFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	var f HubFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	f.dir = filepath.Dir(path)
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	return &f, nil
}

func (f *HubFile) check() error {
	if len(f.Users) == 0 && f.Token == "" {
		return errors.New("no users and no token: nobody could connect")
	}
	if len(f.Users) > 0 && f.Token != "" {
		return errors.New("users and a token together: NATS ignores the token; keep one")
	}
	seen := map[string]bool{}
	for i, u := range f.Users {
		switch {
		case u.Name == "":
			return fmt.Errorf("user %d: no name", i+1)
		case seen[u.Name]:
			return fmt.Errorf("user %q listed twice", u.Name)
		case (u.NKey == "") == (u.Password == ""):
			return fmt.Errorf("user %q: give exactly one of nkey and password", u.Name)
		case u.NKey != "" && !nkeys.IsValidPublicUserKey(u.NKey):
			return fmt.Errorf("user %q: nkey %q is not a public user key (U...)", u.Name, u.NKey)
		}
		if _, err := Permissions(u.Role, subjects.Default(), "x"); err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
		seen[u.Name] = true
	}
	if t := f.TLS; t != nil && (t.Cert == "" || t.Key == "") {
		return errors.New("tls: cert and key are both needed")
	}
	return nil
}

// path resolves a file named in the auth file.
func (f *HubFile) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.dir, p)
}

// Extra is an identity added at run time (the hub's own in-process node).
type Extra struct {
	NKey string
	Role string
}

// Apply sets the server's users, token and TLS from the file, with the
// permissions of each role under subject space s and record bucket.
func (f *HubFile) Apply(opts *server.Options, s subjects.Space, bucket string, extra ...Extra) error {
	if f.Token != "" {
		opts.Authorization = f.Token
	}
	for _, u := range f.Users {
		perms, err := Permissions(u.Role, s, bucket)
		if err != nil {
			return err
		}
		if u.NKey != "" {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.NKey, Permissions: perms})
		} else {
			opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: perms})
		}
	}
	for _, e := range extra {
		perms, err := Permissions(e.Role, s, bucket)
		if err != nil {
			return err
		}
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: e.NKey, Permissions: perms})
	}
	if t := f.TLS; t != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: f.path(t.Cert), KeyFile: f.path(t.Key), CaFile: f.path(t.CA), Verify: t.Verify,
		})
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		opts.TLSConfig, opts.TLSVerify = tc, t.Verify
		opts.TLS = true
	}
	return nil
}
