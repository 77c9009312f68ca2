package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Lookup checks that args (without the program name) are a valid command
// line of the fabric program, without running it: the command exists, every
// flag is known and its value parses, and the arguments fit the command.
// Tests use it to hold command lines written elsewhere (compose.yaml,
// service files) to the real command tree, so a renamed flag fails them.
// extra are the commands cmd/fabric adds (see Run).
func Lookup(args []string, extra ...Command) error {
	return lookup(newRoot(discardIO(), extra), args)
}

// LookupNode is Lookup for the fabric-node program.
func LookupNode(args []string) error {
	return lookup(newNodeRoot(discardIO()), args)
}

func discardIO() *IO {
	return &IO{Stdout: io.Discard, Stderr: io.Discard, Env: func(string) (string, bool) { return "", false }}
}

func lookup(root *cobra.Command, args []string) error {
	cmd, rest, err := root.Find(args)
	if err != nil {
		return fmt.Errorf("%s: %w", root.Name(), err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return nil
}
