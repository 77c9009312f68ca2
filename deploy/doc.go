// Package deploy holds fabric's deployment files: the systemd unit and the
// launchd agent of fabric-node, and the NATS configuration and SSH inventory
// of the repository's compose.yaml. It has no code: its tests hold those
// files (and compose.yaml) to the real command tree and configuration table,
// so a renamed flag or variable fails them instead of a deployment.
package deploy
