package nfttrace

import (
	"fmt"
	"strconv"
	"strings"
)

// read gives a selector's value for the packet as it is now; ok is false when the selector's
// dependency fails (`ip daddr` of an IPv6 packet, `tcp dport` of a UDP one), which ends the
// rule as in the kernel.
func (tr *tracer) read(s selector) (v val, ok bool, err error) {
	p := &tr.p
	if s.needV == 4 && !p.Dst.Is4() || s.needV == 6 && p.Dst.Is4() {
		return v, false, nil
	}
	if (s.f == fSport || s.f == fDport) && (!p.hasPorts() || s.proto != 0 && s.proto != protoNumbers[p.Proto]) {
		return v, false, nil
	}
	switch s.f {
	case fSaddr:
		v.a = p.Src
	case fDaddr:
		v.a = p.Dst
	case fL4proto:
		v.n = protoNumbers[p.Proto]
	case fNfproto:
		v.s = map[bool]string{true: "ipv4", false: "ipv6"}[p.Dst.Is4()]
	case fSport:
		v.n = uint64(p.SPort)
	case fDport:
		v.n = uint64(p.DPort)
	case fMark:
		v.n = uint64(p.Mark)
	case fIifname:
		if tr.iif == "" {
			if p.Local {
				return v, false, nil // no input device: the kernel's match fails
			}
			return v, false, fmt.Errorf("the rule reads iifname; the packet needs Iif")
		}
		v.s = tr.iif
	case fCtState:
		v.n = ctStates[string(p.CtState)]
	case fCtStatus:
		v.n = tr.status
	case fFibSaddr, fFibDaddr:
		a := p.Src
		if s.f == fFibDaddr {
			a = p.Dst
		}
		v.s = "unicast"
		if tr.isLocal(a) {
			v.s = "local"
		}
	case fNumgen:
		n, err := tr.pick(s.mod)
		if err != nil {
			return v, false, err
		}
		v.n = n
	}
	return v, true, nil
}

func (tr *tracer) pick(mod uint64) (uint64, error) {
	i := tr.numgen
	tr.numgen++
	n := 0
	if i < len(tr.env.Numgen) {
		n = tr.env.Numgen[i]
	}
	if n < 0 || uint64(n) >= mod {
		return 0, fmt.Errorf("Env.Numgen[%d] = %d, but the rule draws from mod %d", i, n, mod)
	}
	tr.res.Choices = append(tr.res.Choices, Choice{Rule: tr.cur, Mod: int(mod), Picked: n})
	return uint64(n), nil
}

// key reads a concatenation and describes it as `ip daddr . th dport = 10.0.0.1 . 80`.
func (tr *tracer) key(sels []selector) ([]val, string, bool, error) {
	vals := make([]val, len(sels))
	shown := make([]string, len(sels))
	for i, s := range sels {
		v, ok, err := tr.read(s)
		if err != nil || !ok {
			return nil, "", false, err
		}
		vals[i], shown[i] = v, v.format(s.k)
		if s.f == fNumgen {
			shown[i] = strconv.FormatUint(v.n, 10) // a branch number, not a bit pattern
		}
	}
	return vals, concatText(sels) + " = " + strings.Join(shown, " . "), true, nil
}

func elemMatches(key []pat, sels []selector, vals []val) bool {
	for i, p := range key {
		if !p.contains(sels[i].k, vals[i]) {
			return false
		}
	}
	return true
}

// find looks vals up in a named set, its run-time additions included.
func (tr *tracer) find(t *table, name string, sels []selector, vals []val) (*setElem, bool) {
	s := t.sets[name]
	for _, list := range [][]setElem{s.elems, tr.dyn[s]} {
		for i := range list {
			if elemMatches(list[i].key, sels, vals) {
				return &list[i], true
			}
		}
	}
	return nil, false
}

func (tr *tracer) match(t *table, m match) (bool, string, error) {
	vals, desc, ok, err := tr.key(m.key)
	if err != nil || !ok {
		return false, "", err
	}
	if m.mask != nil {
		vals[0].n &= *m.mask
		desc = fmt.Sprintf("%s & 0x%x = 0x%x", concatText(m.key), *m.mask, vals[0].n)
	}
	var found bool
	switch {
	case m.set != "":
		_, found = tr.find(t, m.set, m.key, vals)
	case m.lookup:
		for _, e := range m.elems {
			found = found || elemMatches(e, m.key, vals)
		}
	case len(m.key) == 1 && m.key[0].k.bitmask() && !m.exact:
		// `ct state established,related`: any of the flags.
		found = vals[0].n&m.elems[0][0].lo.n != 0
	default:
		found = elemMatches(m.elems[0], m.key, vals)
	}
	return found != m.neg, desc, nil
}

func (tr *tracer) vmap(t *table, m vmap) (verdict, string, bool, error) {
	vals, desc, ok, err := tr.key(m.key)
	if err != nil || !ok {
		return verdict{}, "", false, err
	}
	if m.set != "" {
		e, found := tr.find(t, m.set, m.key, vals)
		if !found {
			return verdict{}, "", false, nil
		}
		return e.verd, desc, true, nil
	}
	for _, e := range m.elems {
		if elemMatches(e.key, m.key, vals) {
			return e.verdict, desc, true, nil
		}
	}
	return verdict{}, "", false, nil
}

func (tr *tracer) update(t *table, u setUpdate) (string, bool, error) {
	vals, _, ok, err := tr.key(u.key)
	if err != nil || !ok {
		return "", false, err
	}
	s := t.sets[u.set]
	shown := make([]string, len(vals))
	key := make([]pat, len(vals))
	for i, v := range vals {
		shown[i], key[i] = v.format(u.key[i].k), pat{v, v}
	}
	if _, found := tr.find(t, u.set, u.key, vals); !found {
		tr.dyn[s] = append(tr.dyn[s], setElem{key: key})
		tr.res.Updates = append(tr.res.Updates, SetUpdate{Table: t.String(), Set: u.set, Key: shown})
	}
	return fmt.Sprintf("update @%s { %s }", u.set, strings.Join(shown, " . ")), true, nil
}

// seed puts Env.Sets into the dynamic sets; a Table left empty means every table holding a
// set of that name.
func (tr *tracer) seed() error {
	for _, u := range tr.env.Sets {
		n := 0
		for _, t := range tr.rs.tables {
			s, ok := t.sets[u.Set]
			if !ok || u.Table != "" && u.Table != t.String() {
				continue
			}
			e, err := s.parseElement(strings.Join(u.Key, " . "), nil)
			if err != nil {
				return fmt.Errorf("Env.Sets: table %s set %s: %w", t, u.Set, err)
			}
			tr.dyn[s] = append(tr.dyn[s], e)
			n++
		}
		if n == 0 {
			return fmt.Errorf("Env.Sets: no set %s in table %q", u.Set, u.Table)
		}
	}
	return nil
}
