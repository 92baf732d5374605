package noderuntime

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/weftnet/weft/internal/podfiles"
)

// tokenRetryFor is how long a refused TokenRequest is retried before the pod starts without it.
const tokenRetryFor = 15 * time.Second

// defaultTokenSeconds is what the API server's admission asks for in kube-api-access volumes.
const defaultTokenSeconds = 3607

// projectedFiles renders a projected volume's sources in order. A ServiceAccount token that
// cannot be issued does not stop the pod: the event says why, and the rest of the volume (the
// CA and the namespace, for the kube-api-access-* volume every pod gets) is still there.
func (w *podWorker) projectedFiles(ctx context.Context, volume string, p *corev1.ProjectedVolumeSource) ([]podfiles.VolumeFile, error) {
	mode := podfiles.FileMode(p.DefaultMode, podfiles.DefaultVolumeMode)
	var files []podfiles.VolumeFile
	for i, s := range p.Sources {
		var got []podfiles.VolumeFile
		var err error
		switch {
		case s.ConfigMap != nil:
			got, err = w.configMapFiles(ctx, s.ConfigMap.Name, s.ConfigMap.Items, mode, isTrue(s.ConfigMap.Optional))
		case s.Secret != nil:
			got, err = w.secretFiles(ctx, s.Secret.Name, s.Secret.Items, mode, isTrue(s.Secret.Optional))
		case s.DownwardAPI != nil:
			got, err = podfiles.DownwardAPIFiles(w.pod, s.DownwardAPI.Items, mode, w.facts(), w.rt.host.capacity())
		case s.ServiceAccountToken != nil:
			token, terr := w.serviceAccountToken(ctx, s.ServiceAccountToken)
			if terr != nil {
				w.rt.events.warnOnce(w.pod, "FailedMount", fmt.Sprintf("volume %q: no ServiceAccount token (%v); the volume is mounted without %s", volume, terr, s.ServiceAccountToken.Path))
				continue
			}
			got = []podfiles.VolumeFile{{Path: s.ServiceAccountToken.Path, Data: []byte(token), Mode: mode}}
		default:
			err = fmt.Errorf("sources[%d]: only configMap, secret, downwardAPI and serviceAccountToken are supported by the weft lab's node runtime", i)
		}
		if err != nil {
			return nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
		files = append(files, got...)
	}
	return files, nil
}

// serviceAccountToken asks the API server for a token bound to the pod, with the node's own
// credentials: the Node authorizer lets a node do so for the pods bound to it.
func (w *podWorker) serviceAccountToken(ctx context.Context, s *corev1.ServiceAccountTokenProjection) (string, error) {
	sa := w.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	seconds := int64(defaultTokenSeconds)
	if s.ExpirationSeconds != nil {
		seconds = *s.ExpirationSeconds
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: w.pod.Name, UID: w.pod.UID},
	}}
	if s.Audience != "" {
		req.Spec.Audiences = []string{s.Audience}
	}
	// The Node authorizer learns that the pod is bound to this node from a watch of its own: a
	// request right after the binding may be refused for a moment, so retry a while, as the
	// kubelet's volume manager keeps retrying a mount.
	var tr *authenticationv1.TokenRequest
	var err error
	_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, tokenRetryFor, true, func(ctx context.Context) (bool, error) {
		tr, err = w.rt.client.CoreV1().ServiceAccounts(w.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		return err == nil || !(apierrors.IsForbidden(err) || apierrors.IsNotFound(err)), nil
	})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s: %w", w.pod.Namespace, sa, err)
	}
	return tr.Status.Token, nil
}

// facts are the pod's addresses and the node's, for the downward API.
func (w *podWorker) facts() podfiles.PodFacts {
	return podfiles.PodFacts{PodIPs: w.ips, HostIPs: w.rt.nodeIPStrings()}
}
