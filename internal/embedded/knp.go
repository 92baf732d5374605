package embedded

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

// runKubeNetworkPolicies runs the upstream NetworkPolicy agent, sigs.k8s.io/kube-network-policies,
// on one node, so a lab can enforce NetworkPolicy with it instead of weft (lab up --policy
// kube-network-policies) and benchmarks compare the two like for like. It takes the upstream
// program's flags that matter on a lab node, plus --kubeconfig, since a lab node has no
// in-cluster credentials. The admin policy tiers are left off: they are an older API
// (AdminNetworkPolicy) than the ClusterNetworkPolicy weft enforces.
func runKubeNetworkPolicies(args []string) int {
	fs := flag.NewFlagSet("kube-network-policies", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the node's credentials")
	nodeName := fs.String("hostname-override", "", "the name of the Node it runs on")
	metrics := fs.String("metrics-bind-address", "127.0.0.1:9080", "where /metrics is served")
	queueID := fs.Int("nfqueue-id", 100, "the nfqueue its rules send new connections to")
	failOpen := fs.Bool("fail-open", false, "let packets through while nothing reads the queue")
	klog.InitFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := kubeNetworkPolicies(*kubeconfig, *nodeName, *metrics, *queueID, *failOpen); err != nil {
		fmt.Fprintln(os.Stderr, "kube-network-policies:", err)
		return 1
	}
	return 0
}

func kubeNetworkPolicies(kubeconfig, nodeName, metrics string, queueID int, failOpen bool) error {
	if kubeconfig == "" || nodeName == "" {
		return errors.New("--kubeconfig and --hostname-override are required: a lab node has no in-cluster credentials and its host name is not its Node's name")
	}
	if _, _, err := net.SplitHostPort(metrics); err != nil {
		return fmt.Errorf("--metrics-bind-address %q: %v (give host:port)", metrics, err)
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	// Protobuf, as the upstream program asks for at scale.
	config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	config.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()

	factory := informers.NewSharedInformerFactory(client, 0)
	controller, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Pods(),
		nil, nil, nil, nil,
		networkpolicy.Config{
			QueueID:  queueID,
			NodeName: nodeName,
			FailOpen: failOpen,
			// The lab's kernels are newer than 6.12, where the conntrack race that work-around
			// avoids is fixed; and there is no container runtime with NRI to ask for pod
			// addresses, so they come from the API server, as on clusters without NRI.
			NetfilterBug1766Fix: false,
			NRIdisabled:         true,
		})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	server := &http.Server{Addr: metrics, Handler: mux}
	go func() {
		if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "metrics server")
		}
	}()
	defer server.Close()
	factory.Start(ctx.Done())
	return controller.Run(ctx)
}
