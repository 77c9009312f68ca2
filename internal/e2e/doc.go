// Package e2e holds end-to-end tests that build the real fabric and
// fabric-node binaries and run them as separate processes against a real
// hub. It has no non-test code.
package e2e
