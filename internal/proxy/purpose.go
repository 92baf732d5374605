package proxy

import (
	"strconv"
	"strings"
)

// Every rule of the table carries a comment saying what it is for: its purpose, one of the
// phrases below, and for a rule in a Service's own chains the service port it serves, first:
// "default/web:http masquerade: from outside the pod network". `nft list ruleset` shows them to
// a reader, and `weft trace` explains a rule by them (with what the rule matched and did),
// never by the rule's text. A phrase changes only together with the tracer.
const (
	whyFirewall            = "new connections: check loadBalancerSourceRanges"
	whyServices            = "to the service lookups"
	whyHairpin             = "hairpin: masquerade a pod reaching itself through its service"
	whyMasquerade          = "masquerade what was marked for it"
	whyInvalid             = "drop what conntrack finds out of window"
	whyRefusals            = "new connections: check for refusals"
	whyReject              = "reject"
	whyFirewallIPs         = "LoadBalancer address with source ranges: to its firewall"
	whyServiceIPs          = "service address and port: to the service's chain"
	whyPlainClusterIP      = "cluster IP of a plain service: to the dispatch by endpoint count"
	whyPlainExternal       = "external address of a plain service: to the dispatch by endpoint count"
	whyNodePorts           = "node port: to the service's chain"
	whyPlainNodePorts      = "node port of a plain service: to the dispatch by endpoint count"
	whyNoEndpoints         = "service port without endpoints: reject"
	whyNoEndpointNodePorts = "node port without endpoints: reject"
	whyNoSuchPort          = "service address, no such port: reject"
	whyUnallocated         = "in a ServiceCIDR, no service: drop"
	whyDispatch            = "plain service: to the pick chain of its endpoint count"
	whyMarkOutsiders       = "masquerade: from outside the pod network"
	whyMarkExternal        = "masquerade: to an external address"
	whyMarkNodePort        = "masquerade: to a node port"
	whyMarkFromOutside     = "masquerade: from outside the cluster"
	whyMarkNodeOther       = "masquerade: from the node, not its node address"
	whyPickRandom          = "DNAT to an endpoint picked at random"
	whySourceRanges        = "drop sources outside loadBalancerSourceRanges"
	whyAffinityHit         = "ClientIP affinity: a client seen before, to its endpoint"
	whyAffinityRemember    = "ClientIP affinity: remember the client"
	whyEndpoint            = "DNAT to the endpoint"
	whyRandomEndpoint      = "to an endpoint picked at random"
	whyToService           = "cluster traffic: to every endpoint"
	whyFromPod             = "externalTrafficPolicy Local: from a pod, to every endpoint"
	whyFromNode            = "externalTrafficPolicy Local: from the node, to every endpoint"
	whyNoLocalEndpoint     = "externalTrafficPolicy Local, no endpoint on this node: drop"
	whyNoInternalEndpoint  = "internalTrafficPolicy Local, no endpoint on this node: drop"
)

// Purposes the tracer tells apart, exported for it.
const (
	PurposeServiceIPs          = whyServiceIPs
	PurposePlainClusterIP      = whyPlainClusterIP
	PurposePlainExternal       = whyPlainExternal
	PurposeNodePorts           = whyNodePorts
	PurposePlainNodePorts      = whyPlainNodePorts
	PurposeDispatch            = whyDispatch
	PurposeNoEndpoints         = whyNoEndpoints
	PurposeNoEndpointNodePorts = whyNoEndpointNodePorts
	PurposeNoSuchPort          = whyNoSuchPort
	PurposeUnallocated         = whyUnallocated
	PurposeNoLocalEndpoint     = whyNoLocalEndpoint
	PurposeNoInternalEndpoint  = whyNoInternalEndpoint
	PurposeAffinityHit         = whyAffinityHit
	PurposeAffinityRemember    = whyAffinityRemember
	PurposeMarkOutsiders       = whyMarkOutsiders
	PurposeMarkNodeOther       = whyMarkNodeOther
	PurposeFromNode            = whyFromNode
	PurposeFromPod             = whyFromPod
	PurposeToService           = whyToService
	PurposePickRandom          = whyPickRandom
	PurposeRandomEndpoint      = whyRandomEndpoint
	PurposeMarkExternal        = whyMarkExternal
	PurposeMarkNodePort        = whyMarkNodePort
	PurposeMarkFromOutside     = whyMarkFromOutside
	PurposeEndpoint            = whyEndpoint
	PurposeHairpin             = whyHairpin
	PurposeMasquerade          = whyMasquerade
	PurposeFirewall            = whyFirewall
	PurposeRefusals            = whyRefusals
	PurposeSourceRanges        = whySourceRanges
)

// maxComment is the longest comment nftables keeps.
const maxComment = 128

// serviceComment is the comment of a rule in a service port's own chain.
func serviceComment(sp *servicePort, why string) string {
	port := sp.portName
	if port == "" {
		port = strconv.Itoa(sp.port)
	}
	ns, name := sp.namespace, sp.name
	// Names of 63 characters each do not fit beside the purpose: each is cut to its share,
	// keeping the "/" and ":port" the tracer reads (the chain's name holds them whole).
	if room := maxComment - len(why) - len(port) - 3; len(ns)+len(name) > room {
		ns = ns[:min(len(ns), room/2)]
		name = name[:min(len(name), room-len(ns))]
	}
	return ns + "/" + name + ":" + port + " " + why
}

// ParseComment splits a rule's comment into the service port it serves ("" for a shared rule)
// and its purpose.
func ParseComment(c string) (servicePort, purpose string) {
	if svc, why, ok := strings.Cut(c, " "); ok && strings.Contains(svc, "/") && strings.Contains(svc, ":") {
		return svc, why
	}
	return "", c
}
