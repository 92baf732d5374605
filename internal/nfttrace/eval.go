package nfttrace

import (
	"fmt"
	"strings"
)

// maxDepth bounds jumps and gotos: nft refuses loops when it loads a ruleset, and this
// keeps a looping hand-made one from running forever.
const maxDepth = 64

// chain runs c's rules; vCont means the chain ended or returned, and the caller goes on.
func (tr *tracer) chain(t *table, c *chain, depth int) (verdictKind, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("table %s chain %s: more than %d nested jumps", t, c.name, maxDepth)
	}
	for _, r := range c.rules {
		v, stop, err := tr.rule(t, c, r, depth)
		if err != nil {
			return 0, err
		}
		if stop {
			return v, nil
		}
	}
	return vCont, nil
}

// rule evaluates r's items in order. stop says the chain ends here with v.
func (tr *tracer) rule(t *table, c *chain, r *rule, depth int) (v verdictKind, stop bool, err error) {
	tr.cur = c.name + ": " + r.text
	step := Step{Hook: tr.hook, Table: t.String(), Chain: c.name, Rule: r.text, Comment: r.comment}
	var actions []string
	// record keeps the step once the rule matched or did something; a rule that failed a
	// match before any effect is left out, or the trace would list every rule.
	record := func(suffix string) {
		step.Action = strings.Join(actions, "; ") + suffix
		tr.res.Steps = append(tr.res.Steps, step)
	}
	fail := func(err error) (verdictKind, bool, error) {
		return 0, false, fmt.Errorf("table %s chain %s rule %q: %w", t, c.name, r.text, err)
	}
	broke := func() (verdictKind, bool, error) {
		if len(actions) > 0 {
			record("; then no match")
		}
		return vCont, false, nil
	}
	for _, it := range r.items {
		switch x := it.(type) {
		case match:
			ok, desc, err := tr.match(t, x)
			if err != nil {
				return fail(err)
			}
			if !ok {
				return broke()
			}
			step.Matched = append(step.Matched, desc)
		case vmap:
			vd, desc, ok, err := tr.vmap(t, x)
			if err != nil {
				return fail(err)
			}
			if !ok {
				return broke()
			}
			step.Matched = append(step.Matched, desc)
			return tr.verdict(t, vd, depth, &actions, record)
		case verdict:
			if x.kind == vCont {
				record("")
				return vCont, false, nil
			}
			return tr.verdict(t, x, depth, &actions, record)
		case markSet:
			old := tr.p.Mark
			for _, o := range x {
				switch o.op {
				case '=':
					tr.p.Mark = uint32(o.n)
				case '|':
					tr.p.Mark |= uint32(o.n)
				case '&':
					tr.p.Mark &= uint32(o.n)
				case '^':
					tr.p.Mark ^= uint32(o.n)
				}
			}
			actions = append(actions, fmt.Sprintf("mark 0x%x -> 0x%x", old, tr.p.Mark))
		case nat:
			desc, ok, err := tr.nat(t, x)
			if err != nil {
				return fail(err)
			}
			if !ok {
				return broke()
			}
			// A nat statement ends the rule with accept, as in the kernel.
			actions = append(actions, desc)
			record("")
			return vAccept, true, nil
		case setUpdate:
			desc, ok, err := tr.update(t, x)
			if err != nil {
				return fail(err)
			}
			if !ok {
				return broke()
			}
			actions = append(actions, desc)
		case noop:
		default:
			return fail(fmt.Errorf("internal: unknown item %T", it))
		}
	}
	record("")
	return vCont, false, nil
}

// verdict applies a verdict; a jump's chain runs here and, when it returns, the caller's
// next rule follows; a goto's chain takes the current chain's place.
func (tr *tracer) verdict(t *table, v verdict, depth int, actions *[]string, record func(string)) (verdictKind, bool, error) {
	name := map[verdictKind]string{vAccept: "accept", vDrop: "drop", vReject: "reject", vReturn: "return",
		vJump: "jump " + v.chain, vGoto: "goto " + v.chain}[v.kind]
	*actions = append(*actions, name)
	record("")
	switch v.kind {
	case vReturn:
		return vCont, true, nil
	case vJump, vGoto:
		got, err := tr.chain(t, t.chains[v.chain], depth+1)
		if err != nil {
			return 0, false, err
		}
		if v.kind == vJump && got == vCont {
			return vCont, false, nil
		}
		return got, true, nil
	}
	return v.kind, true, nil
}
