package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fabric-run/fabric/internal/wire"
)

func (a *app) watchCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print node heartbeats, decoded, as they arrive",
		Long: `Print every node's heartbeat as it arrives: node, state, CPU %, memory %,
load, running tasks over slots. Heartbeats travel as msgpack; this is the
readable view of nats sub 'fabric.heartbeat.>'. Ctrl-C stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.openSession(cmd.Context(), a.logger(), modeOneShot)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer s.close()
			ch := make(chan *nats.Msg, 1024)
			sub, err := s.nc.ChanSubscribe(a.settings.subjects.AllHeartbeats(), ch)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			defer sub.Unsubscribe()
			fmt.Fprintf(a.io.Stderr, "fabric: watching heartbeats on %s\n", s.servers)
			enc := json.NewEncoder(a.io.Stdout)
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case m := <-ch:
					var hb wire.Heartbeat
					if err := wire.Decode(m, &hb); err != nil {
						fmt.Fprintf(a.io.Stderr, "fabric: bad heartbeat on %s: %v\n", m.Subject, err)
						continue
					}
					if asJSON {
						if err := enc.Encode(&hb); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(a.io.Stdout, "%s  %-20s %-8s cpu %5.1f%%  mem %5.1f%%  load %5.2f  run %d/%d\n",
						time.Now().Format("15:04:05"), hb.Node, hb.State, hb.CPUPercent, hb.MemPercent, hb.Load1, hb.Running, hb.Slots)
				}
			}
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each heartbeat as a JSON line")
	return cmd
}
