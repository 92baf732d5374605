package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/weftnet/weft/internal/netns"
)

// timeline records when this command first saw things happen, from watches on Nodes and Pods
// (sub-millisecond, unlike the API's one-second timestamps).
type timeline struct {
	mu         sync.Mutex
	seen       map[string]time.Time // node:N, ready:N, ip:POD
	ips        map[string]string
	created    map[string]time.Time // Nodes' creationTimestamp, to tell if one predates the watch
	watchStart time.Time
}

func startTimeline(ctx context.Context, c kubernetes.Interface) *timeline {
	t := &timeline{seen: map[string]time.Time{}, ips: map[string]string{}, created: map[string]time.Time{}, watchStart: time.Now()}
	go t.follow(ctx, func() (watch.Interface, error) {
		return c.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{})
	})
	go t.follow(ctx, func() (watch.Interface, error) {
		return c.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	})
	return t
}

// follow watches until ctx ends, starting again when the API server closes a watch.
func (t *timeline) follow(ctx context.Context, start func() (watch.Interface, error)) {
	for ctx.Err() == nil {
		w, err := start()
		if err != nil {
			_ = sleep(ctx, 100*time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			t.note(ev, time.Now())
		}
		w.Stop()
	}
}

func (t *timeline) note(ev watch.Event, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := func(key string) {
		if _, ok := t.seen[key]; !ok {
			t.seen[key] = at
		}
	}
	switch o := ev.Object.(type) {
	case *corev1.Node:
		first("node:" + o.Name)
		t.created[o.Name] = o.CreationTimestamp.Time
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				first("ready:" + o.Name)
			}
		}
	case *corev1.Pod:
		if ev.Type == watch.Deleted || o.DeletionTimestamp != nil {
			delete(t.seen, "ip:"+o.Name) // a pod of the same name may come again
		} else if o.Status.PodIP != "" {
			first("ip:" + o.Name)
			t.ips[o.Name] = o.Status.PodIP
		}
	}
}

func (t *timeline) ip(pod string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ips[pod]
}

// wait returns when key was first seen, waiting for it if need be.
func (t *timeline) wait(ctx context.Context, key string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		t.mu.Lock()
		at, ok := t.seen[key]
		t.mu.Unlock()
		if ok {
			return at, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s not seen after %s", key, timeout)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// nodeJoinFigures: the lab cannot add a node at run time, so a node's join is timed while
// `weft lab up` brings node-2 up, with pods created on node-1 and node-2 as soon as the API
// answers. joined is when node-2's Node object appeared; reached when node-1's pod first got an
// answer from node-2's pod. That span holds the pod's own start on node-2 as well as weft
// learning of the node (routes, and with vxlan its VTEP).
func nodeJoinFigures(backend string, t *timeline, b pod, start, reached time.Time, firstTry bool) []joinFigure {
	t.mu.Lock()
	joined, ready, ip := t.seen["node:"+b.node], t.seen["ready:"+b.node], t.seen["ip:"+b.name]
	note := ""
	if created := t.created[b.node]; t.watchStart.After(created.Add(time.Second)) {
		joined, note = created, "Node predates the watch: its creationTimestamp (1 s resolution)"
	}
	t.mu.Unlock()
	bound := ""
	if firstTry {
		bound = "upper bound: the first echo was answered"
	}
	return []joinFigure{
		{backend, "lab up started -> node-2 Node created", joined.Sub(start), note},
		{backend, "node-2 Node created -> Ready", ready.Sub(joined), note},
		{backend, "node-2 Node created -> its pod reachable from node-1's", reached.Sub(joined), note},
		{backend, "node-2 pod IP published -> reachable", reached.Sub(ip), bound},
	}
}

// podReachability times a new pod on node-2 from creation to an answer from node-1's pod a.
func podReachability(ctx context.Context, o options, c kubernetes.Interface, t *timeline, backend string, a pod) ([]joinFigure, error) {
	p := pod{name: podName("bench-c"), node: "node-2"}
	defer deletePod(c, p.name)
	start := time.Now()
	if err := createPod(ctx, c, p, o.labTimeout); err != nil {
		return nil, err
	}
	ipAt, err := t.wait(ctx, "ip:"+p.name, o.labTimeout)
	if err != nil {
		return nil, err
	}
	reached, firstTry, err := pingUntilReply(ctx, a.ns, t.ip(p.name), o.labTimeout)
	if err != nil {
		return nil, err
	}
	bound := ""
	if firstTry {
		bound = "upper bound: the first echo was answered"
	}
	return []joinFigure{
		{backend, "new pod on node-2: created -> IP published", ipAt.Sub(start), ""},
		{backend, "new pod on node-2: created -> reachable from node-1", reached.Sub(start), ""},
		{backend, "new pod on node-2: IP published -> reachable", reached.Sub(ipAt), bound},
	}, nil
}

// pingUntilReply sends ICMP echo requests from inside the namespace at srcNS to dst every
// 10 ms and returns when the first reply arrives, and whether the very first request got it
// (then the address was reachable before we started asking).
func pingUntilReply(ctx context.Context, srcNS, dst string, timeout time.Duration) (time.Time, bool, error) {
	var conn *net.IPConn
	err := netns.Do(srcNS, func() error { // the socket stays in the pod's namespace
		var err error
		conn, err = net.ListenIP("ip4:icmp", nil)
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ICMP socket in %s: %w", srcNS, err)
	}
	defer conn.Close()
	to := &net.IPAddr{IP: net.ParseIP(dst)}
	id := uint16(os.Getpid())
	replies := make(chan uint16, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// An echo reply (type 0) to us, from dst: Go strips the IPv4 header.
			if err == nil && n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && from.String() == dst {
				replies <- binary.BigEndian.Uint16(buf[6:])
				return
			}
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for seq := uint16(1); ; seq++ {
		msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq)}
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
		if _, err := conn.WriteTo(msg, to); err != nil && seq == 1 {
			return time.Time{}, false, fmt.Errorf("echo to %s: %w", dst, err)
		}
		select {
		case s := <-replies:
			return time.Now(), s == 1, nil
		case <-tick.C:
		case <-deadline:
			return time.Time{}, false, fmt.Errorf("no echo reply from %s after %s", dst, timeout)
		case <-ctx.Done():
			return time.Time{}, false, context.Cause(ctx)
		}
	}
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
