// Command fabric runs commands across a cluster of your own machines: the
// CLI and MCP front end of the fabric, and (as `fabric node`) its worker.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fabric-run/fabric/internal/cli"
	"github.com/fabric-run/fabric/internal/cli/benchcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, benchcmd.Command)
	stop()
	os.Exit(code)
}
