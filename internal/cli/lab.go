package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/lab"
)

func newLabCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "a real multi-node Kubernetes cluster on this machine, built from network namespaces",
	}
	cmd.AddCommand(newLabUp(), newLabDown(), newLabStatus(), newLabExec(), newLabSupervise())
	return cmd
}

func newLabUp() *cobra.Command {
	o := lab.Defaults()
	cmd := &cobra.Command{
		Use:   "up",
		Short: "build the lab and start its control plane and nodes (needs root)",
		Example: `  sudo weft lab up --nodes 3
  sudo weft lab up --cluster-cidr 10.42.0.0/16,2001:cafe:42::/56 --service-cidr 10.43.0.0/16,2001:cafe:43::/112
  sudo weft lab up --cluster-cidr 2001:cafe:42::/56 --service-cidr 2001:cafe:43::/112
  sudo weft lab up --external-subnet
  sudo weft lab up --proxy kube-proxy-nftables   # the upstream kube-proxy instead of weft's proxy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(o.Complete(), o.Validate()); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			plan, err := lab.Up(o, out, logger())
			if errors.Is(err, lab.ErrAlreadyRunning) {
				fmt.Fprintf(out, "lab %q is already running:\n\n", o.Name)
				return lab.Status(o.DataDir, o.Name, out)
			}
			if err != nil {
				return err
			}
			kubeconfig := lab.AdminKubeconfig(plan.StateDir)
			fmt.Fprintf(out, "\nservice proxy: %s\nweft agent: %s\nkubeconfig: %s\n\nnext:\n", plan.ProxyDescription(), plan.AgentDescription(), kubeconfig)
			labFlag := ""
			if o.Name != "default" {
				labFlag = "WEFT_LAB=" + o.Name + " "
			}
			fmt.Fprintf(out, "  %sweft kubectl get nodes -o wide\n", labFlag)
			fmt.Fprintf(out, "  export KUBECONFIG=%s   # for kubectl, k9s, helm ...\n", kubeconfig)
			fmt.Fprintf(out, "  weft lab status --name %s\n  sudo weft lab down --name %s\n", o.Name, o.Name)
			return nil
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func newLabDown() *cobra.Command {
	o := lab.Defaults()
	cmd := &cobra.Command{
		Use:   "down",
		Short: "stop the lab and remove everything it made (needs root)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("weft lab down needs root to remove network namespaces: run it with sudo")
			}
			found, err := lab.Down(o.DataDir, o.Name, logger())
			if err != nil {
				return err
			}
			if found {
				fmt.Fprintf(cmd.OutOrStdout(), "lab %q is down; nothing of it is left\n", o.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "no lab %q was running; nothing to do\n", o.Name)
			}
			return nil
		},
	}
	addLabSelector(cmd, &o)
	return cmd
}

func newLabStatus() *cobra.Command {
	o := lab.Defaults()
	cmd := &cobra.Command{
		Use:   "status",
		Short: "show a lab's nodes, addresses, processes, API endpoint and state directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := lab.Status(o.DataDir, o.Name, cmd.OutOrStdout())
			if errors.Is(err, lab.ErrNoLab) {
				return fmt.Errorf("no lab %q: start one with `sudo weft lab up --name %s`", o.Name, o.Name)
			}
			return err
		},
	}
	addLabSelector(cmd, &o)
	return cmd
}

func newLabExec() *cobra.Command {
	o := lab.Defaults()
	cmd := &cobra.Command{
		Use:   "exec NODE|HOST -- COMMAND [ARGS...]",
		Short: "run a command inside a lab node (its network, mount and UTS namespaces) or host (router, router2, external, site) (needs root)",
		Example: `  sudo weft lab exec node-1 -- ip route
  sudo weft lab exec node-1 -- cat /etc/cni/net.d/10-weft.conflist
  sudo weft lab exec node-1 -- ip netns list        # the node's pods
  sudo weft lab exec node-1 -- sh
  sudo weft lab exec router -- ip route add 10.42.0.0/16 via 192.168.1.11   # a route back to the pods`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return errors.New("weft lab exec needs root to enter a node's namespaces: run it with sudo")
			}
			return lab.Exec(o.DataDir, o.Name, args[0], args[1:])
		},
	}
	addLabSelector(cmd, &o)
	return cmd
}

func addLabSelector(cmd *cobra.Command, o *lab.Options) {
	cmd.Flags().StringVar(&o.Name, "name", o.Name, "name of the lab")
	cmd.Flags().StringVar(&o.DataDir, "data-dir", o.DataDir, "directory that holds every lab's state")
}

// newLabSupervise is the detached process that `lab up` starts: it inherits the progress pipe
// as fd 3 and the API port's listening socket as fd 4.
func newLabSupervise() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:    "supervise",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			progress := os.NewFile(3, "progress")
			listener, err := listenerFromFD(4)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// A closed terminal must not stop the lab.
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			return lab.Supervise(ctx, stateDir, listener, progress, logger())
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "the lab's state directory")
	return cmd
}
