package nfttrace

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"
)

// Ruleset is a parsed, checked copy of one or more nftables tables. It is never changed by a
// trace, so one Ruleset serves many traces, concurrently too.
type Ruleset struct {
	tables []*table
}

type table struct {
	family knftables.Family
	name   string
	chains map[string]*chain
	sets   map[string]*set // sets and maps share one namespace in nftables
}

type chain struct {
	name  string
	base  *baseChain
	rules []*rule
}

// baseChain is where a chain hooks into the packet's path.
type baseChain struct {
	typ, hook string
	prio      int
	drop      bool // policy drop
}

// set is a named set or map. A map has data kinds: one kVerdict for a verdict map.
type set struct {
	name  string
	keys  []kind
	data  []kind
	elems []setElem
}

type setElem struct {
	key  []pat
	data []val
	verd verdict
}

func (t *table) String() string { return fmt.Sprintf("%s %s", t.family, t.name) }

func newTable(family knftables.Family, name string) (*table, error) {
	switch family {
	case knftables.IPv4Family, knftables.IPv6Family, knftables.InetFamily:
	default:
		return nil, fmt.Errorf("table %s %s: family %q is not simulated (ip, ip6 and inet are)", family, name, family)
	}
	return &table{family: family, name: name, chains: map[string]*chain{}, sets: map[string]*set{}}, nil
}

// addChain declares a chain; typ, hook and prio are empty for a regular chain.
func (t *table) addChain(name, typ, hook, prio, policy string) error {
	c := &chain{name: name}
	if hook != "" {
		switch hook {
		case "prerouting", "input", "forward", "output", "postrouting":
		default:
			return fmt.Errorf("table %s chain %s: hook %q is not simulated", t, name, hook)
		}
		switch typ {
		case "filter", "nat", "route":
		default:
			return fmt.Errorf("table %s chain %s: unknown type %q", t, name, typ)
		}
		// knftables reads `filter-10`, not the `filter - 10` nft prints.
		n, err := knftables.ParsePriority(t.family, strings.ReplaceAll(prio, " ", ""))
		if err != nil {
			return fmt.Errorf("table %s chain %s: %w", t, name, err)
		}
		if policy != "" && policy != "accept" && policy != "drop" {
			return fmt.Errorf("table %s chain %s: unknown policy %q", t, name, policy)
		}
		c.base = &baseChain{typ: typ, hook: hook, prio: n, drop: policy == "drop"}
	}
	t.chains[name] = c
	return nil
}

func (t *table) addRule(chainName, text string) error {
	c, ok := t.chains[chainName]
	if !ok {
		return fmt.Errorf("table %s: rule in missing chain %s", t, chainName)
	}
	r, err := parseRule(text)
	if err != nil {
		return fmt.Errorf("table %s chain %s rule %q: %w", t, chainName, text, err)
	}
	c.rules = append(c.rules, r)
	return nil
}

// addSet declares a set or a map from its `type` or its `typeof`.
func (t *table) addSet(name, typ, typeOf string, isMap bool) error {
	s := &set{name: name}
	var err error
	if typeOf != "" {
		s.keys, s.data, err = parseTypeOf(typeOf)
	} else {
		s.keys, s.data, err = parseTypeNames(typ)
	}
	if err == nil && isMap != (s.data != nil) {
		err = fmt.Errorf("a map needs a data type and a set none")
	}
	if err != nil {
		return fmt.Errorf("table %s set %s: %w", t, name, err)
	}
	t.sets[name] = s
	return nil
}

func parseTypeNames(typ string) (keys, data []kind, err error) {
	k, d, isMap := strings.Cut(typ, ":")
	read := func(s string) ([]kind, error) {
		var out []kind
		for _, name := range strings.Split(s, ".") {
			x, ok := typeKinds[strings.TrimSpace(name)]
			if !ok {
				return nil, fmt.Errorf("type %q is not simulated", strings.TrimSpace(name))
			}
			out = append(out, x)
		}
		return out, nil
	}
	if keys, err = read(k); err != nil {
		return nil, nil, err
	}
	if isMap {
		if data, err = read(d); err != nil {
			return nil, nil, err
		}
	}
	return keys, data, validKinds(keys, data)
}

func parseTypeOf(typeOf string) (keys, data []kind, err error) {
	toks, err := lex(typeOf)
	if err != nil {
		return nil, nil, err
	}
	sels, n, err := parseConcat(toks, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("typeof: %w", err)
	}
	keys = kindsOf(sels)
	switch {
	case n == len(toks):
	case toks[n] == ":" && n+2 == len(toks) && toks[n+1] == "verdict":
		data = []kind{kVerdict}
	case toks[n] == ":":
		d, m, err := parseConcat(toks, n+1)
		if err != nil || m != len(toks) {
			return nil, nil, fmt.Errorf("typeof: bad data type in %q", typeOf)
		}
		data = kindsOf(d)
	default:
		return nil, nil, fmt.Errorf("typeof: unexpected %q", toks[n])
	}
	return keys, data, validKinds(keys, data)
}

func validKinds(keys, data []kind) error {
	for _, k := range keys {
		if k == kVerdict {
			return fmt.Errorf("a verdict cannot be a key")
		}
	}
	for _, k := range data {
		if k == kVerdict && len(data) > 1 {
			return fmt.Errorf("a verdict cannot be part of a concatenation")
		}
	}
	return nil
}

// addElement reads an element as knftables holds it: key parts and value parts as strings.
// Parts are joined and read again, so `{"10.0.0.1 . tcp . 80"}` and `{"10.0.0.1", "tcp",
// "80"}` mean the same, as they do to nft.
func (t *table) addElement(setName string, key, value []string) error {
	s, ok := t.sets[setName]
	if !ok {
		return fmt.Errorf("table %s: element of missing set %s", t, setName)
	}
	e, err := s.parseElement(strings.Join(key, " . "), value)
	if err != nil {
		return fmt.Errorf("table %s set %s element %q: %w", t, setName, strings.Join(key, " . "), err)
	}
	s.elems = append(s.elems, e)
	return nil
}

func (s *set) parseElement(key string, value []string) (setElem, error) {
	toks, err := lex("{ " + key + " }")
	if err != nil {
		return setElem{}, err
	}
	p := &parser{toks: toks, i: 1}
	k, err := p.element(s.keys)
	if err != nil || p.i != len(toks)-1 {
		return setElem{}, fmt.Errorf("key does not fit the set's type (%d parts): %v", len(s.keys), err)
	}
	e := setElem{key: k}
	switch {
	case s.data == nil:
		if len(value) != 0 {
			return e, fmt.Errorf("a set element has no value")
		}
	case s.data[0] == kVerdict:
		toks, err := lex(strings.Join(value, " "))
		if err != nil {
			return e, err
		}
		p := &parser{toks: toks}
		if e.verd, err = p.readVerdict(); err != nil || p.i != len(toks) {
			return e, fmt.Errorf("bad verdict %q", strings.Join(value, " "))
		}
	default:
		toks, err := lex("{ " + strings.Join(value, " . ") + " }")
		if err != nil {
			return e, err
		}
		p := &parser{toks: toks, i: 1}
		d, err := p.element(s.data)
		if err != nil || p.i != len(toks)-1 {
			return e, fmt.Errorf("value does not fit the map's type (%d parts): %v", len(s.data), err)
		}
		for _, x := range d {
			if x.lo != x.hi {
				return e, fmt.Errorf("a map value must be one value, not a range")
			}
			e.data = append(e.data, x.lo)
		}
	}
	return e, nil
}

// check resolves what rules refer to: chains, sets and maps must exist and fit their use.
func (t *table) check() error {
	var errs []error
	for _, c := range t.chains {
		for _, r := range c.rules {
			for _, it := range r.items {
				if err := t.checkItem(it); err != nil {
					errs = append(errs, fmt.Errorf("table %s chain %s rule %q: %w", t, c.name, r.text, err))
				}
			}
		}
	}
	for _, s := range t.sets {
		for _, e := range s.elems {
			if e.verd.chain != "" {
				if err := t.checkTarget(e.verd); err != nil {
					errs = append(errs, fmt.Errorf("table %s map %s: %w", t, s.name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (t *table) checkItem(it item) error {
	switch x := it.(type) {
	case verdict:
		return t.checkTarget(x)
	case vmap:
		for _, e := range x.elems {
			if err := t.checkTarget(e.verdict); err != nil {
				return err
			}
		}
		if x.set != "" {
			return t.checkSet(x.set, x.key, []kind{kVerdict})
		}
	case match:
		if x.set != "" {
			return t.checkSet(x.set, x.key, nil)
		}
	case setUpdate:
		return t.checkSet(x.set, x.key, nil)
	case nat:
		if x.set != "" {
			addr := kAddr4
			if x.v == 6 {
				addr = kAddr6
			}
			if err := t.checkSet(x.set, x.key, []kind{addr, kPort}); err != nil {
				return t.checkSet(x.set, x.key, []kind{addr})
			}
		}
	}
	return nil
}

func (t *table) checkTarget(v verdict) error {
	if v.kind != vJump && v.kind != vGoto {
		return nil
	}
	c, ok := t.chains[v.chain]
	if !ok {
		return fmt.Errorf("no chain %s", v.chain)
	}
	if c.base != nil {
		return fmt.Errorf("cannot jump to base chain %s", v.chain)
	}
	return nil
}

// checkSet says whether set name exists with key kinds matching the selectors, and data
// kinds equal to data (nil: a set, or a map looked up by its key only).
func (t *table) checkSet(name string, key []selector, data []kind) error {
	s, ok := t.sets[name]
	if !ok {
		return fmt.Errorf("no set or map %s", name)
	}
	if !slices.Equal(s.keys, kindsOf(key)) {
		return fmt.Errorf("key %s does not fit @%s's type", concatText(key), name)
	}
	if data != nil && !slices.Equal(s.data, data) {
		return fmt.Errorf("@%s's data type does not fit its use", name)
	}
	return nil
}
