package nfttrace

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// tracer follows one packet. It copies what it changes (the packet, dynamic sets), so the
// Ruleset stays untouched.
type tracer struct {
	rs   *Ruleset
	env  Env
	p    Packet
	res  *Result
	hook string
	// baseType is the type (filter, nat, route) of the base chain being run.
	baseType string
	iif      string
	status   uint64             // conntrack status bits: dnat, snat
	natDone  map[bool]bool      // per manipulation (true: destination), a translation is set up
	dyn      map[*set][]setElem // elements added at run time
	numgen   int                // how many numgen results were drawn
	cur      string             // the rule being evaluated, for choices and errors
}

// Trace follows p through the ruleset and says what happens to it. An error means the
// ruleset or the packet asks for something the tracer does not simulate; the Result then
// holds the steps up to that point.
func (rs *Ruleset) Trace(p Packet, env Env) (*Result, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.CtState == "" {
		p.CtState = CtNew
	}
	tr := &tracer{rs: rs, env: env, p: p, res: &Result{Verdict: Accepted}, iif: p.Iif,
		natDone: map[bool]bool{}, dyn: map[*set][]setElem{}}
	if p.CtDNAT {
		tr.status |= ctStatuses["dnat"]
	}
	if err := tr.seed(); err != nil {
		return nil, err
	}
	err := tr.walk()
	r := tr.res
	r.Mark = tr.p.Mark
	r.Dst = netip.AddrPortFrom(tr.p.Dst, 0)
	if tr.p.hasPorts() {
		r.Dst = netip.AddrPortFrom(tr.p.Dst, tr.p.DPort)
	}
	return r, err
}

// walk is the kernel's order of hooks: prerouting, a routing decision, then input or
// forward and postrouting; a locally generated packet starts at output, and when it is
// addressed to the node itself it comes back in through lo.
func (tr *tracer) walk() error {
	if tr.p.Local {
		if ok, err := tr.runHook("output"); !ok || err != nil {
			return err
		}
		local := tr.route()
		if ok, err := tr.runHook("postrouting"); !ok || err != nil || !local {
			return err
		}
		tr.iif = "lo"
		if ok, err := tr.runHook("prerouting"); !ok || err != nil {
			return err
		}
		_, err := tr.runHook("input")
		return err
	}
	if ok, err := tr.runHook("prerouting"); !ok || err != nil {
		return err
	}
	if tr.route() {
		_, err := tr.runHook("input")
		return err
	}
	if ok, err := tr.runHook("forward"); !ok || err != nil {
		return err
	}
	_, err := tr.runHook("postrouting")
	return err
}

func (tr *tracer) isLocal(a netip.Addr) bool {
	return a.IsLoopback() || slices.Contains(tr.env.LocalAddrs, a)
}

// route decides local delivery or forwarding from the destination as it is now, after any
// DNAT: the kernel routes again when the destination changed.
func (tr *tracer) route() bool {
	local := tr.isLocal(tr.p.Dst)
	tr.res.Local = local
	how := map[bool]string{true: "local delivery, %s is a local address", false: "forward, %s is not a local address"}[local]
	if tr.p.Local {
		how = map[bool]string{true: "loopback, %s is a local address", false: "out, %s is not a local address"}[local]
	}
	tr.res.Steps = append(tr.res.Steps, Step{Hook: "route", Action: fmt.Sprintf(how, tr.p.Dst)})
	return local
}

type hooked struct {
	t *table
	c *chain
}

// baseChains lists the chains at hook that see this packet's family, by priority. Chains of
// equal priority run in an order the kernel does not promise; here, table then name.
func (tr *tracer) baseChains(hook string) []hooked {
	var out []hooked
	for _, t := range tr.rs.tables {
		if t.family == "ip" && !tr.p.Dst.Is4() || t.family == "ip6" && tr.p.Dst.Is4() {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(t.chains)) {
			if c := t.chains[name]; c.base != nil && c.base.hook == hook {
				out = append(out, hooked{t, c})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b hooked) int { return cmp.Compare(a.c.base.prio, b.c.base.prio) })
	return out
}

// runHook runs the base chains at hook; false means the packet went no further.
func (tr *tracer) runHook(hook string) (bool, error) {
	tr.hook = hook
	tr.res.Path = append(tr.res.Path, hook)
	dstManip := hook == "prerouting" || hook == "output"
	isNew := tr.p.CtState == CtNew
	for _, h := range tr.baseChains(hook) {
		if h.c.base.typ == "nat" {
			// The kernel consults nat chains for a connection's first packet only, and at
			// each kind of translation (source, destination) until one is set up; later
			// packets take the translation conntrack remembers.
			why := ""
			switch {
			case !isNew:
				why = "skipped: nat chains see only a connection's first packet"
			case tr.natDone[dstManip]:
				why = "skipped: this connection's translation is already set up"
			}
			if why != "" {
				tr.res.Steps = append(tr.res.Steps, Step{Hook: hook, Table: h.t.String(), Chain: h.c.name, Action: why})
				continue
			}
		}
		tr.baseType = h.c.base.typ
		v, err := tr.chain(h.t, h.c, 0)
		if err != nil {
			return false, err
		}
		if v == vCont && h.c.base.drop {
			tr.res.Steps = append(tr.res.Steps, Step{Hook: hook, Table: h.t.String(), Chain: h.c.name, Action: "policy drop"})
			v = vDrop
		}
		switch v {
		case vDrop:
			tr.res.Verdict = Dropped
			return false, nil
		case vReject:
			tr.res.Verdict = Rejected
			return false, nil
		}
	}
	if isNew && hook != "forward" {
		// No translation at this hook is a translation too (to the same address): later
		// nat chains of the same kind are not consulted, as for a packet looped back.
		tr.natDone[dstManip] = true
	}
	return true, nil
}
