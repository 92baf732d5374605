// Package embedded links the real Kubernetes and etcd programs into weft, the way K3s does.
// It is the only package that imports k8s.io/kubernetes; everything else stays quick to build.
package embedded

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
	k8scli "k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream binaries offer
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream binaries register
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	kubeproxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's auth plugins

	"github.com/weftnet/weft/internal/cli"
)

// Components are the programs weft embeds, run with their own argument lists.
func Components() cli.Components {
	return cli.Components{
		"etcd": func(args []string) int {
			etcdmain.Main(append([]string{"etcd"}, args...))
			return 0
		},
		"kube-apiserver": func(args []string) int {
			cmd := apiserver.NewAPIServerCommand()
			cmd.SetArgs(args)
			return k8scli.Run(cmd)
		},
		"kube-controller-manager": func(args []string) int {
			cmd := controllermanager.NewControllerManagerCommand()
			cmd.SetArgs(args)
			return k8scli.Run(cmd)
		},
		// The upstream service proxy, so a lab can run it in place of weft's (lab up --proxy).
		"kube-proxy": func(args []string) int {
			cmd := kubeproxy.NewProxyCommand()
			cmd.SetArgs(args)
			return k8scli.Run(cmd)
		},
		// The upstream NetworkPolicy agent, so a lab can run it in place of weft's (lab up --policy).
		"kube-network-policies": runKubeNetworkPolicies,
		"kube-scheduler": func(args []string) int {
			cmd := scheduler.NewSchedulerCommand()
			cmd.SetArgs(args)
			return k8scli.Run(cmd)
		},
		"kubectl": func(args []string) int {
			// kubectl reads its verbosity before building its commands, from os.Args.
			os.Args = append([]string{"kubectl"}, args...)
			_, _ = logs.GlogSetter(kubectl.GetLogVerbosity(os.Args))
			cmd := kubectl.NewDefaultKubectlCommand()
			cmd.SetArgs(args)
			if err := k8scli.RunNoErrOutput(cmd); err != nil {
				kubectlutil.CheckErr(err)
			}
			return 0
		},
	}
}
