package auth

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fabric-run/fabric/subjects"
)

// NATSConf renders f's users as a nats-server configuration block
// (`authorization { users = [...] }`), with the permissions of each role, for
// a NATS deployment that is not a fabric hub: include it from the servers'
// configuration. Only nkey and password users can be rendered.
func (f *HubFile) NATSConf(s subjects.Space, bucket string) (string, error) {
	var b strings.Builder
	b.WriteString("# fabric roles for a standalone nats-server (written by fabric init):\n")
	b.WriteString("# include this file from the server's configuration.\n")
	if f.Token != "" {
		fmt.Fprintf(&b, "authorization {\n  token: %q\n}\n", f.Token)
		return b.String(), nil
	}
	b.WriteString("authorization {\n  users = [\n")
	for _, u := range f.Users {
		perms, err := Permissions(u.Role, s, bucket)
		if err != nil {
			return "", err
		}
		if u.NKey != "" {
			fmt.Fprintf(&b, "    { # %s\n      nkey: %q\n", u.Name, u.NKey)
		} else {
			fmt.Fprintf(&b, "    { user: %q, password: %q\n", u.Name, u.Password)
		}
		writePerms(&b, perms)
		b.WriteString("    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

func writePerms(b *strings.Builder, p *server.Permissions) {
	if p == nil {
		return // admin: no restriction
	}
	b.WriteString("      permissions: {\n")
	for _, sp := range []struct {
		name string
		perm *server.SubjectPermission
	}{{"publish", p.Publish}, {"subscribe", p.Subscribe}} {
		if sp.perm == nil {
			continue
		}
		fmt.Fprintf(b, "        %s: {", sp.name)
		if len(sp.perm.Allow) > 0 {
			fmt.Fprintf(b, " allow: %s", quoteList(sp.perm.Allow))
		}
		if len(sp.perm.Deny) > 0 {
			fmt.Fprintf(b, ", deny: %s", quoteList(sp.perm.Deny))
		}
		b.WriteString(" }\n")
	}
	b.WriteString("      }\n")
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
