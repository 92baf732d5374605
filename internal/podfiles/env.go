package podfiles

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Sources are the lookups the runtime provides for env and envFrom. A missing
// object is reported as an error for which apierrors.IsNotFound is true (what
// listers return), or as (nil, nil).
type Sources interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// PodFacts are the values only the runtime knows.
type PodFacts struct {
	// PodIPs as the CRI reported them, primary first.
	PodIPs []string
	// HostIPs are the node's IPs, primary first. Their first entry also picks
	// which pod IP family the downward API lists first.
	HostIPs []string
}

// ContainerEnv returns container c's complete environment, as the kubelet
// builds it:
//
//  1. envFrom, in order: every key of the ConfigMap's data or the Secret's
//     data, with the prefix, later sources overriding earlier ones. Keys are
//     not filtered: the kubelet passes keys that are not C identifiers through
//     unchanged. A missing optional source is skipped.
//  2. env, in order, overriding envFrom. A literal value has its $(VAR)
//     references expanded against the variables set so far (envFrom and
//     earlier env) and then the service links; "$$" escapes. valueFrom
//     results are never expanded. A missing optional configMapKeyRef or
//     secretKeyRef (object or key) leaves the variable as it was.
//  3. the service links from ServiceEnv that no variable above overrides.
//
// The kubelet emits steps 1–2 in random map order; here a variable sits where
// its name was first set (envFrom keys sorted within each source) and keeps
// its last value; step 3 follows in ServiceEnv's order.
//
// valueFrom.fieldRef supports metadata.name, .namespace, .uid, .labels,
// .annotations (with or without a ['key'] subscript; whole maps render as
// sorted key="quoted value" lines), spec.nodeName (alias spec.host),
// spec.serviceAccountName, status.hostIP(s) (facts.HostIPs) and
// status.podIP(s) (facts.PodIPs reduced to one IP per family, the node's
// primary family first, comma-joined). resourceFieldRef supports cpu, memory,
// ephemeral-storage and hugepages-* limits and requests, rounded up to the
// divisor; a missing or zero cpu/memory/ephemeral-storage limit reads as
// allocatable (the node's), after pod-level cpu/memory limits replace it.
// fileKeyRef is not supported.
//
// Errors name the container and the variable, e.g.
// `container "app": env "X": configmap "c" not found`.
func ContainerEnv(pod *corev1.Pod, c *corev1.Container, services []*corev1.Service, src Sources, facts PodFacts, allocatable corev1.ResourceList) ([]EnvVar, error) {
	b := envBuilder{
		pod:  pod,
		src:  src,
		vals: map[string]string{},
		cms:  map[string]*corev1.ConfigMap{},
		secs: map[string]*corev1.Secret{},
	}
	svcEnv := ServiceEnv(pod, services)
	svcVals := make(map[string]string, len(svcEnv))
	for _, e := range svcEnv {
		svcVals[e.Name] = e.Value
	}

	for i, ef := range c.EnvFrom {
		where := fmt.Sprintf("container %q: envFrom[%d]", c.Name, i)
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := b.configMap(ef.ConfigMapRef.Name, isOptional(ef.ConfigMapRef.Optional))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if cm == nil {
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
				b.set(ef.Prefix+k, cm.Data[k])
			}
		case ef.SecretRef != nil:
			s, err := b.secret(ef.SecretRef.Name, isOptional(ef.SecretRef.Optional))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if s == nil {
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(s.Data)) {
				b.set(ef.Prefix+k, string(s.Data[k]))
			}
		}
	}

	lookup := func(name string) (string, bool) {
		if v, ok := b.vals[name]; ok {
			return v, true
		}
		v, ok := svcVals[name]
		return v, ok
	}
	for _, e := range c.Env {
		val, ok, err := b.value(c, &e, lookup, facts, allocatable)
		if err != nil {
			return nil, fmt.Errorf("container %q: env %q: %w", c.Name, e.Name, err)
		}
		if ok {
			b.set(e.Name, val)
		}
	}

	env := make([]EnvVar, 0, len(b.names)+len(svcEnv))
	for _, n := range b.names {
		env = append(env, EnvVar{n, b.vals[n]})
	}
	for _, e := range svcEnv {
		if _, ok := b.vals[e.Name]; !ok {
			env = append(env, e)
		}
	}
	return env, nil
}

type envBuilder struct {
	pod   *corev1.Pod
	src   Sources
	names []string
	vals  map[string]string
	cms   map[string]*corev1.ConfigMap
	secs  map[string]*corev1.Secret
}

func (b *envBuilder) set(name, val string) {
	if _, ok := b.vals[name]; !ok {
		b.names = append(b.names, name)
	}
	b.vals[name] = val
}

// value resolves one env entry; ok is false when an optional reference is
// missing and the variable must be left alone.
func (b *envBuilder) value(c *corev1.Container, e *corev1.EnvVar, lookup func(string) (string, bool), facts PodFacts, allocatable corev1.ResourceList) (val string, ok bool, err error) {
	if e.Value != "" {
		return expand(e.Value, lookup), true, nil
	}
	from := e.ValueFrom
	switch {
	case from == nil:
		return "", true, nil
	case from.FieldRef != nil:
		v, err := fieldRefValue(b.pod, from.FieldRef, facts)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := resourceFieldRefValue(b.pod, c, from.ResourceFieldRef, allocatable)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := isOptional(ref.Optional)
		cm, err := b.configMap(ref.Name, optional)
		if err != nil || cm == nil {
			return "", false, err
		}
		v, found := cm.Data[ref.Key]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("key %q not found in configmap %q", ref.Key, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := isOptional(ref.Optional)
		s, err := b.secret(ref.Name, optional)
		if err != nil || s == nil {
			return "", false, err
		}
		v, found := s.Data[ref.Key]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("key %q not found in secret %q", ref.Key, ref.Name)
		}
		return string(v), true, nil
	case from.FileKeyRef != nil:
		return "", false, fmt.Errorf("valueFrom.fileKeyRef is not supported")
	}
	return "", true, nil
}

// configMap fetches (once) a ConfigMap; (nil, nil) means a missing optional one.
func (b *envBuilder) configMap(name string, optional bool) (*corev1.ConfigMap, error) {
	if cm, ok := b.cms[name]; ok {
		return cm, nil
	}
	if b.src == nil {
		return nil, fmt.Errorf("configmap %q: no sources to read it from", name)
	}
	cm, err := b.src.ConfigMap(b.pod.Namespace, name)
	if cm == nil && (err == nil || apierrors.IsNotFound(err)) {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %q: %w", name, err)
	}
	b.cms[name] = cm
	return cm, nil
}

// secret fetches (once) a Secret; (nil, nil) means a missing optional one.
func (b *envBuilder) secret(name string, optional bool) (*corev1.Secret, error) {
	if s, ok := b.secs[name]; ok {
		return s, nil
	}
	if b.src == nil {
		return nil, fmt.Errorf("secret %q: no sources to read it from", name)
	}
	s, err := b.src.Secret(b.pod.Namespace, name)
	if s == nil && (err == nil || apierrors.IsNotFound(err)) {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %q: %w", name, err)
	}
	b.secs[name] = s
	return s, nil
}

func isOptional(p *bool) bool { return p != nil && *p }
