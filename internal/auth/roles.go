// Package auth is who may do what on the fabric's bus: the roles (front end,
// node, admin) and the NATS permissions that enforce them, the hub's auth
// file, the client options for every kind of NATS credential, and `fabric
// init`, which writes a ready-to-use setup (keys, certificates, env files).
package auth

import (
	"fmt"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/subjects"
)

// The roles.
const (
	// RoleFrontend may submit and cancel tasks, ping nodes, read heartbeats
	// and output, and keep task records in JetStream.
	RoleFrontend = "frontend"
	// RoleNode may take tasks and cancels, answer pings, publish heartbeats,
	// output, replies and its tasks' results. It may not submit tasks.
	RoleNode = "node"
	// RoleAdmin may do anything (the nats CLI, monitoring).
	RoleAdmin = "admin"
)

// Permissions returns the NATS permissions of role for subject space s and
// the task record bucket.
func Permissions(role string, s subjects.Space, bucket string) (*server.Permissions, error) {
	p := s.Prefix()
	kv := "$KV." + bucket + "."
	switch role {
	case RoleFrontend:
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{
				p + ".task.>", p + ".cancel.>", p + ".ping",
				"$JS.API.>", kv + ">", // task records
				"_INBOX.>", // replies to nodes' flow-control requests
				"$SRV.>",   // node discovery
			}},
			Subscribe: &server.SubjectPermission{Allow: []string{
				"_INBOX.>", p + ".heartbeat.>", p + ".output.>",
			}},
		}, nil
	case RoleNode:
		return &server.Permissions{
			Publish: &server.SubjectPermission{
				Allow: append([]string{
					p + ".heartbeat.>", p + ".output.>",
					kv + "res.>", // results, recorded even when the front end is gone
					"_INBOX.>",   // acks, chunks, results, pings answered
				}, locks.OwnerSubjects()...), // the cluster-wide locks its tasks take
				Deny: []string{p + ".task.>", p + ".cancel.>"},
			},
			Subscribe: &server.SubjectPermission{Allow: []string{
				p + ".task.>", p + ".cancel.>", p + ".ping",
				"_INBOX.>", // answers to its flow-control requests
				"$SRV.>",   // nats micro ls/info/stats
			}},
		}, nil
	case RoleAdmin:
		return nil, nil // no restriction
	}
	return nil, fmt.Errorf("unknown role %q: want %s, %s or %s", role, RoleFrontend, RoleNode, RoleAdmin)
}
