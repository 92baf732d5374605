package dns

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// byService indexes EndpointSlices by the namespace/name of their Service.
const byService = "weft-dns-service"

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

// follow files every informer event's object in z as it comes: a Service or EndpointSlice
// event refiles that one Service from the informers' caches (so events that race each other
// still end at the caches' state), a Pod event moves that pod's names. dnsService is called
// when the Service whose addresses this node answers at changes. It returns what says the
// handlers have seen the informers' first lists.
func (s *Server) follow(inf dnsInformers, z *zone, dnsService func()) ([]cache.InformerSynced, error) {
	if err := inf.slices.Informer().AddIndexers(cache.Indexers{byService: sliceService}); err != nil {
		return nil, fmt.Errorf("EndpointSlice index: %w", err)
	}
	refile := func(key string) {
		if key == s.opts.Service {
			dnsService()
		}
		ns, name, _ := strings.Cut(key, "/")
		svc, err := inf.services.Lister().Services(ns).Get(name)
		if err != nil {
			svc = nil // deleted: its records go
		}
		var eps []*discoveryv1.EndpointSlice
		objs, _ := inf.slices.Informer().GetIndexer().ByIndex(byService, key)
		for _, o := range objs {
			if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
				eps = append(eps, sl)
			}
		}
		z.setService(key, svc, eps)
	}
	services := cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { refile(objectKey(o)) },
		UpdateFunc: func(old, o any) {
			if !sameVersion(old, o) {
				refile(objectKey(o))
			}
		},
		DeleteFunc: func(o any) { refile(objectKey(o)) },
	}
	slices := cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { refileSliceService(o, refile) },
		UpdateFunc: func(old, o any) {
			if sameVersion(old, o) {
				return
			}
			// A slice moved to another Service (its label changed) leaves the first one too.
			if a, b := sliceKey(old), sliceKey(o); a != b {
				refileSliceService(old, refile)
			}
			refileSliceService(o, refile)
		},
		DeleteFunc: func(o any) { refileSliceService(o, refile) },
	}
	pods := cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { z.setPod(nil, asPod(o)) },
		UpdateFunc: func(old, o any) {
			if !sameVersion(old, o) {
				z.setPod(asPod(old), asPod(o))
			}
		},
		DeleteFunc: func(o any) { z.setPod(asPod(o), nil) },
	}
	var synced []cache.InformerSynced
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{{inf.services.Informer(), services}, {inf.slices.Informer(), slices}, {inf.pods.Informer(), pods}} {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, err
		}
		synced = append(synced, reg.HasSynced)
	}
	return synced, nil
}

func refileSliceService(o any, refile func(string)) {
	if key := sliceKey(o); key != "" {
		refile(key)
	}
}

// sliceKey is the namespace/name of an EndpointSlice's Service ("" for none).
func sliceKey(o any) string {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	keys, _ := sliceService(o)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// objectKey is namespace/name of an object or of a deleted one's last known state.
func objectKey(o any) string {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		return t.Key
	}
	key, _ := cache.MetaNamespaceKeyFunc(o)
	return key
}

// asPod is the pod in an event (nil for what is not one).
func asPod(o any) *corev1.Pod {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	p, _ := o.(*corev1.Pod)
	return p
}

// sameVersion says whether an update event is the informer's periodic resync of an object
// that did not change.
func sameVersion(old, o any) bool {
	a, ok1 := old.(interface{ GetResourceVersion() string })
	b, ok2 := o.(interface{ GetResourceVersion() string })
	return ok1 && ok2 && a.GetResourceVersion() != "" && a.GetResourceVersion() == b.GetResourceVersion()
}
