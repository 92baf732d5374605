package nfttrace

import (
	"fmt"
	"net/netip"
	"strings"
)

// parser reads one rule's tokens.
type parser struct {
	toks []string
	i    int
}

func (p *parser) peek(off int) string {
	if p.i+off < len(p.toks) {
		return p.toks[p.i+off]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek(0)
	p.i++
	return t
}

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("expected %q, found %q", t, got)
	}
	return nil
}

// parseRule reads a rule as weft writes it or `nft list` prints it. What it does not know is
// an error: a tracer that skipped a construct would explain a packet wrongly.
func parseRule(text string) (*rule, error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	r := &rule{text: text}
	for p.i < len(p.toks) {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		if c, ok := it.(comment); ok {
			// What the rule says it is for: kept apart from what it does.
			r.comment = string(c)
			if i := strings.LastIndex(r.text, ` comment "`); i >= 0 {
				r.text = strings.TrimSpace(r.text[:i])
			}
			continue
		}
		r.items = append(r.items, it)
	}
	return r, nil
}

func (p *parser) item() (item, error) {
	switch t := p.peek(0); t {
	case "accept", "drop", "return", "continue":
		p.next()
		return verdict{kind: map[string]verdictKind{"accept": vAccept, "drop": vDrop, "return": vReturn, "continue": vCont}[t]}, nil
	case "jump", "goto":
		return p.verdict()
	case "reject":
		return p.reject()
	case "counter":
		p.next()
		if p.peek(0) == "packets" && p.peek(2) == "bytes" {
			p.i += 4
		}
		return noop{}, nil
	case "comment":
		p.next()
		quoted := p.next()
		if !strings.HasPrefix(quoted, `"`) {
			return nil, fmt.Errorf("comment: expected a quoted string")
		}
		return comment(strings.Trim(quoted, `"`)), nil
	case "log":
		return p.log()
	case "masquerade":
		return p.masquerade()
	case "dnat", "snat":
		return p.nat()
	case "update", "add":
		return p.setUpdate()
	case "meta", "mark":
		if p.peek(1) == "set" || (t == "meta" && p.peek(1) == "mark" && p.peek(2) == "set") {
			return p.markSet()
		}
	}
	return p.match()
}

func (p *parser) verdict() (verdict, error) {
	t := p.next()
	name := p.next()
	if name == "" || strings.ContainsAny(name, `{}:,"`) {
		return verdict{}, fmt.Errorf("%s: bad chain name %q", t, name)
	}
	if t == "jump" {
		return verdict{kind: vJump, chain: name}, nil
	}
	return verdict{kind: vGoto, chain: name}, nil
}

// readVerdict reads a verdict inside a verdict map: `goto x`, `jump x`, `accept`, `drop`.
func (p *parser) readVerdict() (verdict, error) {
	switch t := p.peek(0); t {
	case "jump", "goto":
		return p.verdict()
	case "accept", "drop", "return":
		p.next()
		return verdict{kind: map[string]verdictKind{"accept": vAccept, "drop": vDrop, "return": vReturn}[t]}, nil
	}
	return verdict{}, fmt.Errorf("expected a verdict, found %q", p.peek(0))
}

// reject's forms (`with tcp reset`, `with icmp type port-unreachable`, `with icmpx
// admin-prohibited`) only change what the sender hears back, which the tracer does not model.
func (p *parser) reject() (item, error) {
	p.next()
	if p.peek(0) != "with" {
		return verdict{kind: vReject}, nil
	}
	p.next()
	switch p.next() {
	case "tcp":
		if err := p.expect("reset"); err != nil {
			return nil, fmt.Errorf("reject: %w", err)
		}
	case "icmp", "icmpv6", "icmpx":
		if p.peek(0) == "type" {
			p.next()
		}
		if p.next() == "" {
			return nil, fmt.Errorf("reject: missing icmp code")
		}
	default:
		return nil, fmt.Errorf("reject: unknown form %q", p.peek(-1))
	}
	return verdict{kind: vReject}, nil
}

func (p *parser) log() (item, error) {
	p.next()
	for {
		switch p.peek(0) {
		case "prefix", "level", "group", "snaplen", "queue-threshold", "flags":
			p.i += 2
		default:
			return noop{}, nil
		}
	}
}

func (p *parser) masquerade() (item, error) {
	p.next()
	n := nat{kind: natMasq}
	for {
		t := p.peek(0)
		ok := t != ""
		for _, f := range strings.Split(t, ",") {
			ok = ok && (f == "random" || f == "fully-random" || f == "persistent")
		}
		if !ok {
			break
		}
		n.flags = strings.TrimSpace(n.flags + " " + t)
		p.next()
	}
	if p.peek(0) == "to" {
		return nil, fmt.Errorf("masquerade to a port is not simulated")
	}
	return n, nil
}

// nat reads `dnat [ip|ip6] to <addr>[:port]` and `dnat [ip|ip6] to <key> map @name`; snat
// takes the literal form only.
func (p *parser) nat() (item, error) {
	n := nat{kind: natDNAT}
	if p.next() == "snat" {
		n.kind = natSNAT
	}
	switch p.peek(0) {
	case "ip":
		n.v = 4
		p.next()
	case "ip6":
		n.v = 6
		p.next()
	}
	if err := p.expect("to"); err != nil {
		return nil, err
	}
	if selectorWords[p.peek(0)] {
		if n.kind != natDNAT {
			return nil, fmt.Errorf("snat to a map is not simulated")
		}
		key, next, err := parseConcat(p.toks, p.i)
		if err != nil {
			return nil, err
		}
		p.i = next
		if err := p.expect("map"); err != nil {
			return nil, err
		}
		name := p.next()
		if !strings.HasPrefix(name, "@") || len(name) < 2 {
			return nil, fmt.Errorf("dnat map: only a named map (@name) is simulated, found %q", name)
		}
		n.key, n.set = key, name[1:]
		return n, nil
	}
	addr, port, err := parseNATTarget(p.next())
	if err != nil {
		return nil, err
	}
	if n.v != 0 && addr.Is4() != (n.v == 4) {
		return nil, fmt.Errorf("%s target %s is not of the rule's family", map[natKind]string{natDNAT: "dnat", natSNAT: "snat"}[n.kind], addr)
	}
	n.addr, n.port = addr, port
	for p.peek(0) == "random" || p.peek(0) == "fully-random" || p.peek(0) == "persistent" {
		p.next()
	}
	return n, nil
}

// parseNATTarget reads `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1` or `[2001:db8::1]:80`.
func parseNATTarget(s string) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.Addr{}, 0, fmt.Errorf("nat target %q: port 0", s)
		}
		return ap.Addr(), ap.Port(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, 0, fmt.Errorf("bad nat target %q", s)
	}
	return a, 0, nil
}

func (p *parser) setUpdate() (item, error) {
	verb := p.next()
	name := p.next()
	if !strings.HasPrefix(name, "@") || len(name) < 2 {
		return nil, fmt.Errorf("%s: expected @set, found %q", verb, name)
	}
	if err := p.expect("{"); err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	key, next, err := parseConcat(p.toks, p.i)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	p.i = next
	// A per-element timeout only decides when the element goes away: a trace never lasts
	// that long.
	if p.peek(0) == "timeout" {
		p.i += 2
	}
	if err := p.expect("}"); err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	return setUpdate{set: name[1:], key: key}, nil
}

func (p *parser) markSet() (item, error) {
	if p.next() == "meta" {
		p.next()
	}
	p.next() // set
	if t := p.peek(0); t != "meta" && t != "mark" {
		n, err := parseNum(kInt, p.next())
		if err != nil {
			return nil, fmt.Errorf("mark set: %w", err)
		}
		return markSet{{'=', n}}, nil
	}
	if t := p.next(); t == "meta" && p.next() != "mark" {
		return nil, fmt.Errorf("mark set: expected meta mark")
	}
	// nft applies the operators left to right: `meta mark & 0xe00fffff | 0x02100000` clears
	// bits, then sets some.
	var m markSet
	ops := map[string]byte{"|": '|', "or": '|', "&": '&', "and": '&', "^": '^', "xor": '^'}
	for len(m) == 0 || ops[p.peek(0)] != 0 {
		op, ok := ops[p.next()]
		if !ok {
			return nil, fmt.Errorf("mark set: unknown operator %q", p.peek(-1))
		}
		n, err := parseNum(kInt, p.next())
		if err != nil {
			return nil, fmt.Errorf("mark set: %w", err)
		}
		m = append(m, markOp{op, n})
	}
	return m, nil
}

// match reads `<key> [& mask] [==|!=] <literal | { ... } | @set>` and `<key> vmap ...`.
func (p *parser) match() (item, error) {
	if !selectorWords[p.peek(0)] {
		return nil, fmt.Errorf("unsupported construct at %q", p.peek(0))
	}
	key, next, err := parseConcat(p.toks, p.i)
	if err != nil {
		return nil, err
	}
	p.i = next
	m := match{key: key}
	if t := p.peek(0); t == "&" || t == "and" {
		if len(key) != 1 || key[0].k != kInt {
			return nil, fmt.Errorf("%s: a mask needs one integer selector", concatText(key))
		}
		p.next()
		n, err := parseNum(kInt, p.next())
		if err != nil {
			return nil, err
		}
		m.mask = &n
	}
	if p.peek(0) == "vmap" {
		if m.mask != nil {
			return nil, fmt.Errorf("vmap on a masked key is not simulated")
		}
		p.next()
		return p.vmap(key)
	}
	switch p.peek(0) {
	case "==", "eq":
		m.exact = true
		p.next()
	case "!=", "ne":
		m.neg = true
		p.next()
	}
	switch t := p.peek(0); {
	case strings.HasPrefix(t, "@") && len(t) > 1:
		m.set, m.lookup = t[1:], true
		p.next()
	case t == "{":
		p.next()
		m.lookup = true
		for p.peek(0) != "}" {
			e, err := p.element(kindsOf(key))
			if err != nil {
				return nil, err
			}
			m.elems = append(m.elems, e)
			if err := p.elementEnd(); err != nil {
				return nil, err
			}
		}
		p.next()
	default:
		e, err := p.element(kindsOf(key))
		if err != nil {
			return nil, err
		}
		m.elems = [][]pat{e}
	}
	return m, nil
}

func (p *parser) vmap(key []selector) (item, error) {
	v := vmap{key: key}
	if t := p.peek(0); strings.HasPrefix(t, "@") && len(t) > 1 {
		v.set = t[1:]
		p.next()
		return v, nil
	}
	if err := p.expect("{"); err != nil {
		return nil, fmt.Errorf("vmap: %w", err)
	}
	for p.peek(0) != "}" {
		k, err := p.element(kindsOf(key))
		if err != nil {
			return nil, err
		}
		if err := p.expect(":"); err != nil {
			return nil, fmt.Errorf("vmap: %w", err)
		}
		vd, err := p.readVerdict()
		if err != nil {
			return nil, fmt.Errorf("vmap: %w", err)
		}
		v.elems = append(v.elems, mapElem{key: k, verdict: vd})
		if err := p.elementEnd(); err != nil {
			return nil, err
		}
	}
	p.next()
	return v, nil
}

// element reads one key, `a . b . c`, with one literal for each of the key's kinds.
func (p *parser) element(kinds []kind) ([]pat, error) {
	var e []pat
	for i, k := range kinds {
		if i > 0 {
			if err := p.expect("."); err != nil {
				return nil, fmt.Errorf("element: %w", err)
			}
		}
		t := p.next()
		if t == "" || t == "}" || t == "," || t == ":" || t == "{" {
			return nil, fmt.Errorf("element: expected a value, found %q", t)
		}
		x, err := parsePat(k, t)
		if err != nil {
			return nil, fmt.Errorf("element %q: %w", t, err)
		}
		e = append(e, x)
	}
	return e, nil
}

func (p *parser) elementEnd() error {
	switch p.peek(0) {
	case ",":
		p.next()
		return nil
	case "}":
		return nil
	}
	return fmt.Errorf("expected ',' or '}', found %q", p.peek(0))
}
