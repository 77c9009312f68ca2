package auth

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/fabric-run/fabric/internal/fabrictest"
	"github.com/fabric-run/fabric/internal/hub"
)

// TestCredsFile: against a NATS in operator mode (JWTs), a client with a
// .creds file connects and one without is refused.
func TestCredsFile(t *testing.T) {
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	opClaims, _ := jwt.DecodeOperatorClaims(opJWT)

	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	accJWT, err := jwt.NewAccountClaims(accPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	sysJWT, _ := jwt.NewAccountClaims(sysPub).Encode(op)

	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	uc.IssuerAccount = accPub
	userJWT, err := uc.Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(t.TempDir(), "user.creds")
	os.WriteFile(credsFile, creds, 0o600)

	resolver := &server.MemAccResolver{}
	h := fabrictest.StartHub(t, hub.Config{Configure: func(o *server.Options) error {
		o.TrustedOperators = []*jwt.OperatorClaims{opClaims}
		o.AccountResolver = resolver
		o.SystemAccount = sysPub
		resolver.Store(accPub, accJWT)
		resolver.Store(sysPub, sysJWT)
		return nil
	}})
	if _, err := connectAs(t, h, Client{Creds: credsFile}); err != nil {
		t.Fatalf("with the creds file: %v", err)
	}
	if _, err := connectAs(t, h, Client{}); err == nil {
		t.Fatal("connected with no credentials")
	}
}
