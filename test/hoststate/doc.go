// Package hoststate captures the host's network-relevant state so that
// end-to-end tests can prove `weft lab up` followed by `weft lab down`
// leaves the machine exactly as it found it.
//
// A Snapshot is a set of named sections, each a normalized text. The
// normalizers are pure functions over the raw tool output; they remove only
// values the kernel changes by itself (lifetimes and timers that tick, packet
// counters, comment timestamps), so that two snapshots of an untouched host
// compare equal while any real change still shows up in Diff.
//
// Take reads the namespaces of the calling process and, to read firewall
// state, needs root (CAP_NET_ADMIN). Tools that are not installed are recorded
// as such in their section rather than failing the snapshot.
package hoststate
