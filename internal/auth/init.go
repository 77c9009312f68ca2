package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nkeys"
	"go.yaml.in/yaml/v3"

	"github.com/fabric-run/fabric/internal/tasks"
	"github.com/fabric-run/fabric/subjects"
)

// InitOptions shape `fabric init`.
type InitOptions struct {
	// Server is the URL clients will use (written into the env files).
	Server string
	// TLS generates a certificate authority and a hub certificate for
	// Hosts (plus localhost and 127.0.0.1).
	TLS bool
	// MTLS also generates client certificates and makes the hub require them.
	MTLS  bool
	Hosts []string
	// Force overwrites existing files.
	Force bool
}

// InitResult lists what Init wrote.
type InitResult struct {
	Dir   string
	Files []string
	// SigningKey is the public key nodes trust.
	SigningKey string
}

// Init writes a ready-to-use auth setup into dir: nkeys for the front-end,
// node and admin roles, the hub's auth file granting each its permissions,
// a task signing key and the public key nodes trust, optional TLS
// certificates, and one env file per role to source.
func Init(dir string, o InitOptions) (*InitResult, error) {
	if o.MTLS {
		o.TLS = true
	}
	if o.Server == "" {
		o.Server = "nats://127.0.0.1:4222"
		if o.TLS {
			o.Server = "tls://127.0.0.1:4222"
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	w := &writer{dir: dir, force: o.Force}
	res := &InitResult{Dir: dir}
	hub := HubFile{}
	for _, role := range []string{RoleFrontend, RoleNode, RoleAdmin} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, err
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		w.file(role+".nk", append(seed, '\n'))
		hub.Users = append(hub.Users, User{Name: role, Role: role, NKey: pub})
	}
	signer, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	sseed, _ := signer.Seed()
	spub, _ := signer.PublicKey()
	res.SigningKey = spub
	w.file("signing.nk", append(sseed, '\n'))
	w.file("trusted.pub", []byte("# task signing keys the nodes trust (fabric init)\n"+spub+"\n"))

	env := map[string][]string{
		RoleFrontend: {"FABRIC_SERVER=" + o.Server, "FABRIC_NKEY=" + filepath.Join(dir, "frontend.nk"), "FABRIC_SIGN_KEY=" + filepath.Join(dir, "signing.nk")},
		RoleNode:     {"FABRIC_SERVER=" + o.Server, "FABRIC_NKEY=" + filepath.Join(dir, "node.nk"), "FABRIC_TRUSTED_KEYS=" + filepath.Join(dir, "trusted.pub")},
		RoleAdmin:    {"FABRIC_SERVER=" + o.Server, "FABRIC_NKEY=" + filepath.Join(dir, "admin.nk")},
	}
	if o.TLS {
		if err := writeTLS(w, &hub, env, o); err != nil {
			return nil, err
		}
	}
	b, err := yaml.Marshal(&hub)
	if err != nil {
		return nil, err
	}
	w.file("hub-auth.yaml", append([]byte("# fabric serve --auth hub-auth.yaml (written by fabric init)\n"), b...))
	conf, err := hub.NATSConf(subjects.Default(), tasks.DefaultBucket)
	if err != nil {
		return nil, err
	}
	w.file("nats-auth.conf", []byte(conf))
	for _, role := range []string{RoleFrontend, RoleNode, RoleAdmin} {
		w.file(role+".env", []byte("# source this on a "+role+" machine (written by fabric init)\n"+strings.Join(env[role], "\n")+"\n"))
	}
	if w.err != nil {
		return nil, w.err
	}
	res.Files = w.written
	return res, nil
}

func writeTLS(w *writer, hub *HubFile, env map[string][]string, o InitOptions) error {
	ca, err := newCA("fabric CA")
	if err != nil {
		return err
	}
	hosts := append(slices.Clone(o.Hosts), "localhost", "127.0.0.1", "::1")
	srv, err := newCert("fabric hub", hosts, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, false, ca)
	if err != nil {
		return err
	}
	w.file("ca.pem", ca.cert)
	w.file("ca-key.pem", ca.key)
	w.file("hub-cert.pem", srv.cert)
	w.file("hub-key.pem", srv.key)
	hub.TLS = &TLSFiles{Cert: "hub-cert.pem", Key: "hub-key.pem"}
	for _, role := range []string{RoleFrontend, RoleNode, RoleAdmin} {
		env[role] = append(env[role], "FABRIC_TLS_CA="+filepath.Join(w.dir, "ca.pem"))
	}
	if !o.MTLS {
		return nil
	}
	hub.TLS.CA, hub.TLS.Verify = "ca.pem", true
	for _, role := range []string{RoleFrontend, RoleNode, RoleAdmin} {
		c, err := newCert("fabric "+role, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false, ca)
		if err != nil {
			return err
		}
		w.file(role+"-cert.pem", c.cert)
		w.file(role+"-key.pem", c.key)
		env[role] = append(env[role], "FABRIC_TLS_CERT="+filepath.Join(w.dir, role+"-cert.pem"), "FABRIC_TLS_KEY="+filepath.Join(w.dir, role+"-key.pem"))
	}
	return nil
}

// writer writes files (mode 0600), refusing to overwrite unless forced,
// remembering the first error.
type writer struct {
	dir     string
	force   bool
	written []string
	err     error
}

func (w *writer) file(name string, data []byte) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.dir, name)
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if !w.force {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(p, flags, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%s exists; pass --force to overwrite the whole setup", p)
		}
		w.err = fmt.Errorf("init: %w", err)
		return
	}
	if _, err := f.Write(data); err != nil {
		w.err = fmt.Errorf("init: %w", err)
	}
	if err := f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("init: %w", err)
	}
	w.written = append(w.written, p)
}
