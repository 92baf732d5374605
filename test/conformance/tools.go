//go:build tools

package conformance

// The programs the harness builds beside e2e.test, from the same Kubernetes release: agnhost,
// the one test image most network specs run, and regression-issue-74839, another one's;
// kubectl, which the specs call for exec and logs; and the ginkgo CLI, which runs the suite in
// parallel processes.
import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "k8s.io/kubernetes/test/images/regression-issue-74839"
)
