// Command node is the fabric worker: it runs on each machine of the
// cluster, takes tasks from NATS and runs them. Install it as fabric-node
// (go build -o fabric-node ./cmd/node), never as "node", which would shadow
// Node.js. The same worker is `fabric node` in the main binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fabric-run/fabric/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.RunNode(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
