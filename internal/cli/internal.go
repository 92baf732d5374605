package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/httpserver"
	"github.com/weftnet/weft/internal/lab"
	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/noderuntime"
)

// newInternalCommand holds the helpers the lab re-executes; users do not run them.
func newInternalCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "internal", Hidden: true}
	cmd.AddCommand(newNSExec(), newExternalHost(), newHTTPServer(), newLabDNS(), newDNSServer())
	return cmd
}

// newNSExec enters a lab namespace and execs the rest of the command line there.
func newNSExec() *cobra.Command {
	var path, nodeRoot, hostname string
	var nodeBinds []string
	var joinNode bool
	cmd := &cobra.Command{
		Use:  "nsexec --netns PATH [--node-root DIR --hostname NAME | --join-node] -- PROGRAM [ARGS...]",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var prepare func() error
			switch {
			case joinNode:
				prepare = lab.JoinNode
			case nodeRoot != "":
				prepare = func() error { return lab.PrepareNode(nodeRoot, hostname, nodeBinds) }
			}
			return netns.Exec(path, prepare, args)
		},
	}
	cmd.Flags().StringVar(&path, "netns", "", "network namespace file")
	cmd.Flags().StringVar(&nodeRoot, "node-root", "", "node directory: gives the program a lab node's own mount and UTS namespaces")
	cmd.Flags().BoolVar(&joinNode, "join-node", false, "enter a running node's mount and UTS namespaces, inherited as fds 3 and 4")
	cmd.Flags().StringVar(&hostname, "hostname", "", "host name of the node")
	cmd.Flags().StringArrayVar(&nodeBinds, "node-bind", nil, "a host directory the node sees as it is, read-only, not through its overlays; repeatable")
	return cmd
}

func newExternalHost() *cobra.Command {
	name := "weft lab external host"
	cmd := &cobra.Command{
		Use:  "external-host",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return lab.ServeExternalHost(ctx, name)
		},
	}
	cmd.Flags().StringVar(&name, "name", name, "how the host introduces itself in its answers")
	return cmd
}

// newHTTPServer is what web images (nginx, httpd ...) run in the lab.
func newHTTPServer() *cobra.Command {
	var name string
	var ports []int
	cmd := &cobra.Command{
		Use:  "http-server --name POD --ports 80,8080",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return httpserver.Serve(ctx, name, ports)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name to answer with (the pod's)")
	cmd.Flags().IntSliceVar(&ports, "ports", []int{80}, "ports to serve on, every address of both families")
	return cmd
}

// newNodeCommand runs the lab's node runtime (its kubelet) for one node.
func newNodeCommand() *cobra.Command {
	o := noderuntime.Defaults()
	cmd := &cobra.Command{
		Use:    "node",
		Short:  "run a lab node's runtime: register the Node and keep it Ready",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := errors.Join(o.Complete(os.Hostname), o.Validate()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			rt, err := noderuntime.New(o, logger())
			if err != nil {
				return err
			}
			return rt.Run(ctx)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func listenerFromFD(fd uintptr) (net.Listener, error) {
	f := os.NewFile(fd, "api-listener")
	if f == nil {
		return nil, fmt.Errorf("no listening socket on fd %d: `weft lab supervise` is started by `weft lab up`", fd)
	}
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("API port socket on fd %d: %w", fd, err)
	}
	return l, nil
}
