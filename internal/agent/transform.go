package agent

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StripManagedFields drops the field managers' bookkeeping from every object the shared
// informer factory keeps: no feature reads it, and at 10k Services it is a good part of their
// memory. A feature may still set a narrower transform of its own on an informer it alone uses.
func StripManagedFields(obj any) (any, error) {
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
	}
	return obj, nil
}
