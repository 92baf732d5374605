// Package nfttrace follows a packet through nftables rules without a kernel, to say what the
// rules weft writes do to it: which chains and rules it meets, whether it is accepted,
// dropped or rejected, where DNAT sends it, whether it is masqueraded, and its mark.
//
// The model. A Ruleset is read from knftables fakes (FromFake) or from `nft list` text
// (Parse). Trace walks the hooks a packet crosses: prerouting, a routing decision, then
// input, or forward and postrouting; a locally generated packet starts at output, goes to
// postrouting, and when addressed to the node itself comes back through lo to prerouting and
// input. At each hook the base chains of every table of the packet's family run by
// priority. Verdicts behave as in the kernel: accept ends a base chain only, drop and reject
// end the packet, jump returns and goto does not, a chain's end or `return` in a base chain
// applies its policy. A nat statement accepts; after DNAT the later hooks see the new
// destination, and routing decides again.
//
// What is simulated of conntrack is only what the caller states: the packet's ct state (nat
// chains run for a new connection's first packet only, and for each kind of translation only
// until one is set up, as the kernel's nat hooks do) and, for an established connection,
// whether it was DNATed. Routing knows no tables: a destination among Env.LocalAddrs or on
// loopback is delivered locally, any other is forwarded. Masquerade records that the source
// is rewritten, not to which address. `numgen random` draws from Env.Numgen, or TraceAll
// tries every branch. Dynamic sets see the updates the same trace made, and Env.Sets, never
// time out. Rules are parsed when the Ruleset is built; a construct outside the supported
// subset is an error that names its rule, never a silent pass.
//
// The subset: matches on ip/ip6 saddr, daddr, protocol/nexthdr, meta l4proto, nfproto, mark
// (with `& mask`), iifname, th/tcp/udp/sctp sport and dport, ct state, ct status, fib saddr
// or daddr type, and numgen random mod N; with ==, != or none, against a literal (address,
// prefix, range, flags), an anonymous set or a named set, keys concatenated with `.`. Verdict
// maps, named and anonymous. Statements: accept, drop, reject (any form), jump, goto,
// return, continue, meta mark set (a value, or meta mark with &, | and ^ applied in order),
// dnat and snat to an address[:port], dnat through a named map, masquerade with flags,
// update or add @set, counter, log, comment. Tables of family ip, ip6 and inet; base chains
// of type filter, nat and route at the five IP hooks.
package nfttrace
