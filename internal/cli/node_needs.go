package cli

import (
	"github.com/fabric-run/fabric/internal/router"
	"github.com/fabric-run/fabric/internal/shell"
	"github.com/fabric-run/fabric/internal/wire"
)

// commandNeeds is the capabilities a task's command invokes, as the router
// infers them: a node counts them against its limits and GPUs whoever sent
// the task (a plain `nats req` carries no requirements).
func commandNeeds(t *wire.Task) []string {
	if t.Command == "" {
		if len(t.Argv) > 0 {
			if c, ok := shell.Capability(t.Argv[0]); ok {
				return []string{c}
			}
		}
		return nil
	}
	inf, err := router.Infer(t.Command)
	if err != nil {
		return nil
	}
	return inf.Capabilities
}
