package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weftnet/weft/internal/agent"
	"github.com/weftnet/weft/internal/atomicfile"
	"github.com/weftnet/weft/internal/install"
	"github.com/weftnet/weft/internal/lab"
)

func newInstallCommand() *cobra.Command {
	o := install.Defaults()
	var kubeconfig string
	var render bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "install weft on a cluster: its CRD, RBAC, ConfigMap and the agent's DaemonSet, then wait for every node's agent",
		Example: `  weft install --kubeconfig ~/.kube/config --cluster-cidr 10.42.0.0/16 --service-cidr 10.43.0.0/16
  weft install --cluster-cidr 10.42.0.0/16,2001:cafe:42::/56 --service-cidr 10.43.0.0/16,2001:cafe:43::/112 --api-server https://192.0.2.10:6443
  weft install --render > weft.yaml   # the manifests, to apply yourself`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if err := o.Validate(); err != nil {
				return err
			}
			if render {
				objs, err := install.Render(o)
				if err != nil {
					return err
				}
				y, err := install.YAML(objs)
				if err != nil {
					return err
				}
				_, err = out.Write(y)
				return err
			}
			c, err := connect(kubeconfig, &o)
			if err != nil {
				return err
			}
			if err := o.Validate(); err != nil { // --api-server may come from the kubeconfig
				return err
			}
			objs, err := install.Render(o)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			if err := install.Preflight(ctx, c.Kube, o); err != nil {
				return err
			}
			if err := c.Apply(ctx, objs, out); err != nil {
				return err
			}
			if o.Timeout == 0 {
				return nil
			}
			if err := install.WaitDaemonSet(ctx, c.Kube, install.DaemonSetName, o.Timeout, out); err != nil {
				return err
			}
			fmt.Fprintln(out, "weft is installed: `weft status` shows every node's agent")
			return nil
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, the lab named by $WEFT_LAB, or ~/.kube/config)")
	cmd.Flags().BoolVar(&render, "render", false, "print the manifests instead of applying them")
	return cmd
}

// connect makes the clients for the cluster that clusterConfig finds.
func connect(kubeconfig string, o *install.Options) (*install.Clients, error) {
	cfg, err := clusterConfig(kubeconfig, o)
	if err != nil {
		return nil, err
	}
	return install.NewClients(cfg)
}

// clusterConfig loads the kubeconfig: the flag, $KUBECONFIG, a lab named by $WEFT_LAB, or the
// usual ~/.kube/config. Without --api-server, the agents reach the API server at the
// kubeconfig's server, or at a lab's API server on the lab LAN.
func clusterConfig(kubeconfig string, o *install.Options) (*rest.Config, error) {
	var labServer string
	if kubeconfig == "" && os.Getenv("KUBECONFIG") == "" && os.Getenv("WEFT_LAB") != "" {
		dataDir := os.Getenv("WEFT_DATA_DIR")
		if dataDir == "" {
			dataDir = lab.Defaults().DataDir
		}
		plan, err := lab.LoadPlan(dataDir, os.Getenv("WEFT_LAB"))
		if err != nil {
			return nil, err
		}
		kubeconfig, labServer = lab.AdminKubeconfig(plan.StateDir), plan.LANAPIServer()
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	cfg.UserAgent = "weft-install"
	if o != nil && o.APIServer == "" {
		o.APIServer = labServer
		if o.APIServer == "" {
			o.APIServer = cfg.Host
			if u, err := url.Parse(cfg.Host); err == nil {
				if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
					return nil, fmt.Errorf("--api-server: the kubeconfig's server %s is a loopback address, which the nodes' agents cannot use: give the API server's address on the nodes' network, e.g. --api-server https://192.0.2.10:6443", cfg.Host)
				}
			}
		}
	}
	return cfg, nil
}

// newInstallCNICommand is the DaemonSet's init container: it puts weft-cni, which the image
// keeps beside weft, into the node's CNI bin directory.
func newInstallCNICommand() *cobra.Command {
	binDir := "/host/opt/cni/bin"
	cmd := &cobra.Command{
		Use:   "install-cni",
		Short: "copy weft-cni into the node's CNI bin directory, replacing the old one in one rename (the DaemonSet's init container)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			src := filepath.Join(filepath.Dir(self), agent.CNIPluginName)
			data, err := os.ReadFile(src)
			if err != nil {
				return fmt.Errorf("weft-cni is not beside weft (%w): the image must hold both", err)
			}
			if fi, err := os.Stat(binDir); err != nil || !fi.IsDir() {
				return errors.Join(fmt.Errorf("--cni-bin-dir %s: not a directory: mount the node's /opt/cni/bin there", binDir), err)
			}
			dst := filepath.Join(binDir, agent.CNIPluginName)
			if err := atomicfile.Write(dst, data, 0o755); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed %s\n", dst)
			return nil
		},
	}
	cmd.Flags().StringVar(&binDir, "cni-bin-dir", binDir, "the node's CNI bin directory as mounted in the container")
	return cmd
}
