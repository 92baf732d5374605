package proxy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	corev1informers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	networkinginformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// proxyInformers are the objects the proxy reads.
type proxyInformers struct {
	services corev1informers.ServiceInformer
	slices   discoveryinformers.EndpointSliceInformer
	cidrs    networkinginformers.ServiceCIDRInformer
	nodes    corev1informers.NodeInformer
}

func informersOf(f informers.SharedInformerFactory) proxyInformers {
	return proxyInformers{services: f.Core().V1().Services(), slices: f.Discovery().V1().EndpointSlices(),
		cidrs: f.Networking().V1().ServiceCIDRs(), nodes: f.Core().V1().Nodes()}
}

func (i proxyInformers) synced() []cache.InformerSynced {
	return []cache.InformerSynced{i.services.Informer().HasSynced, i.slices.Informer().HasSynced,
		i.cidrs.Informer().HasSynced, i.nodes.Informer().HasSynced}
}

// watch makes every change mark what it touches and kick the worker: a Service or an
// EndpointSlice marks its Service, a ServiceCIDR the ranges, a Node the LoadBalancer owners.
func (p *Proxy) watch(inf proxyInformers, kick func()) error {
	on := func(touch func(obj any, c *changes)) cache.ResourceEventHandlerDetailedFuncs {
		do := func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			p.mark(func(c *changes) { touch(obj, c) })
			kick()
		}
		return cache.ResourceEventHandlerDetailedFuncs{AddFunc: func(obj any, initial bool) {
			// The first sync is full and reads every object from the caches; marking each of
			// the initial list again would make the second one as long.
			if !initial {
				do(obj)
			}
		}, DeleteFunc: do, UpdateFunc: func(old, now any) {
			o, ok1 := old.(metav1.Object)
			n, ok2 := now.(metav1.Object)
			if ok1 && ok2 && o.GetResourceVersion() == n.GetResourceVersion() {
				return // a relist, not a change
			}
			do(old)
			do(now)
		}}
	}
	handlers := map[cache.SharedIndexInformer]cache.ResourceEventHandlerDetailedFuncs{
		inf.services.Informer(): on(func(obj any, c *changes) {
			if s, ok := obj.(*corev1.Service); ok {
				c.services[s.Namespace+"/"+s.Name] = true
			}
		}),
		inf.slices.Informer(): on(func(obj any, c *changes) {
			keys, _ := sliceService(obj)
			for _, k := range keys {
				c.services[k] = true
			}
		}),
		inf.cidrs.Informer(): on(func(_ any, c *changes) { c.cidrs = true }),
		inf.nodes.Informer(): on(func(_ any, c *changes) { c.nodes = true }),
	}
	for informer, h := range handlers {
		if _, err := informer.AddEventHandler(h); err != nil {
			return err
		}
	}
	return nil
}
