package nfttrace

import (
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/knftables"
)

// Parse reads the text of `nft list table ...` or `nft list ruleset` (with or without -a),
// as on a live node. It knows tables, chains, sets and maps; other objects (flowtables,
// named counters, quotas) are errors, as are rules outside the subset the tracer simulates.
func Parse(text string) (*Ruleset, error) {
	lp := &listParser{lines: strings.Split(text, "\n")}
	rs := &Ruleset{}
	for {
		stmt, ok, err := lp.statement()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		f := strings.Fields(stmt)
		if len(f) != 4 || f[0] != "table" || f[3] != "{" {
			return nil, fmt.Errorf("line %d: expected `table FAMILY NAME {`, found %q", lp.n, stmt)
		}
		t, err := newTable(knftables.Family(f[1]), f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lp.n, err)
		}
		if err := lp.table(t); err != nil {
			return nil, err
		}
		rs.tables = append(rs.tables, t)
	}
	var errs []error
	for _, t := range rs.tables {
		errs = append(errs, t.check())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// listParser hands out statements: a line, joined with the next ones while braces are open,
// so that a set's elements wrapped over lines are one statement.
type listParser struct {
	lines []string
	n     int // lines read
}

func (lp *listParser) statement() (string, bool, error) {
	var b strings.Builder
	depth := 0
	for lp.n < len(lp.lines) {
		line := lp.lines[lp.n]
		lp.n++
		line = strings.TrimSpace(stripComment(line))
		if line == "" {
			continue
		}
		b.WriteString(line + " ")
		depth += braces(line)
		// A block's opening line (`chain x {`) is a statement by itself; an element list
		// opened on its own line (`elements = {`) is not a block.
		opens := strings.HasSuffix(line, "{") && depth == 1 && b.Len() == len(line)+1 && !strings.HasPrefix(line, "elements")
		if depth <= 0 || opens {
			return strings.TrimSpace(b.String()), true, nil
		}
	}
	if b.Len() > 0 {
		return "", false, fmt.Errorf("line %d: unbalanced braces at the end", lp.n)
	}
	return "", false, nil
}

// stripComment drops what follows a `#` outside quoted strings: `nft -a` writes handles so.
func stripComment(s string) string {
	quoted := false
	for i, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '#' && !quoted:
			return s[:i]
		}
	}
	return s
}

// braces counts `{` less `}` outside quoted strings.
func braces(s string) int {
	n, quoted := 0, false
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '{' && !quoted:
			n++
		case c == '}' && !quoted:
			n--
		}
	}
	return n
}

// table reads a table's body up to its closing brace.
func (lp *listParser) table(t *table) error {
	for {
		stmt, ok, err := lp.statement()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("table %s: missing '}'", t)
		}
		if stmt == "}" {
			return nil
		}
		f := strings.Fields(stmt)
		switch {
		case f[0] == "comment":
			continue
		case f[0] == "flags":
			// A dormant table sees no packet; tracing its rules would mislead.
			return fmt.Errorf("line %d: table %s: flags %s are not simulated", lp.n, t, strings.Join(f[1:], " "))
		}
		if len(f) != 3 || f[2] != "{" {
			return fmt.Errorf("line %d: table %s: unexpected %q", lp.n, t, stmt)
		}
		switch f[0] {
		case "chain":
			err = lp.chain(t, f[1])
		case "set", "map":
			err = lp.set(t, f[1], f[0] == "map")
		default:
			err = fmt.Errorf("line %d: table %s: %s objects are not simulated", lp.n, t, f[0])
		}
		if err != nil {
			return err
		}
	}
}

func (lp *listParser) chain(t *table, name string) error {
	declared := false
	for {
		stmt, ok, err := lp.statement()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("table %s chain %s: missing '}'", t, name)
		}
		// nft prints a chain's comment before its type line.
		if strings.HasPrefix(stmt, "comment ") {
			continue
		}
		if !declared && strings.HasPrefix(stmt, "type ") {
			typ, hook, prio, policy, err := baseChainLine(stmt)
			if err == nil {
				err = t.addChain(name, typ, hook, prio, policy)
			}
			if err != nil {
				return fmt.Errorf("line %d: table %s chain %s: %w", lp.n, t, name, err)
			}
			declared = true
			continue
		}
		if !declared {
			if err := t.addChain(name, "", "", "", ""); err != nil {
				return err
			}
			declared = true
		}
		if stmt == "}" {
			return nil
		}
		if err := t.addRule(name, stmt); err != nil {
			return fmt.Errorf("line %d: %w", lp.n, err)
		}
	}
}

// baseChainLine reads `type nat hook prerouting priority dstnat; policy accept;`.
func baseChainLine(s string) (typ, hook, prio, policy string, err error) {
	for _, clause := range strings.Split(s, ";") {
		f := strings.Fields(clause)
		switch {
		case len(f) == 0:
		case f[0] == "policy" && len(f) == 2:
			policy = f[1]
		case f[0] == "type" && len(f) >= 6 && f[2] == "hook" && f[4] == "priority":
			typ, hook, prio = f[1], f[3], strings.Join(f[5:], " ")
		default:
			return "", "", "", "", fmt.Errorf("unexpected %q", strings.TrimSpace(clause))
		}
	}
	if typ == "" {
		return "", "", "", "", fmt.Errorf("no type, hook and priority in %q", s)
	}
	return typ, hook, prio, policy, nil
}

func (lp *listParser) set(t *table, name string, isMap bool) error {
	var typ, typeOf string
	var elements []string
	for {
		stmt, ok, err := lp.statement()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("table %s set %s: missing '}'", t, name)
		}
		if stmt == "}" {
			break
		}
		word, rest, _ := strings.Cut(stmt, " ")
		switch word {
		case "type":
			typ = rest
		case "typeof":
			typeOf = rest
		case "elements":
			elements = append(elements, rest)
		case "flags", "size", "timeout", "gc-interval", "policy", "auto-merge", "counter", "comment":
			// They change how the kernel stores and expires elements, not which match.
		default:
			return fmt.Errorf("line %d: table %s set %s: unexpected %q", lp.n, t, name, stmt)
		}
	}
	if err := t.addSet(name, typ, typeOf, isMap); err != nil {
		return err
	}
	for _, e := range elements {
		if err := lp.elements(t, name, e); err != nil {
			return err
		}
	}
	return nil
}

// elements reads `= { k : v, k : v }`, leaving out what nft prints after an element's key or
// value (timeout, expires, counter, comment): none of it changes a lookup.
func (lp *listParser) elements(t *table, name, s string) error {
	toks, err := lex(s)
	if err != nil || len(toks) < 3 || toks[0] != "=" || toks[1] != "{" || toks[len(toks)-1] != "}" {
		return fmt.Errorf("table %s set %s: bad elements %q", t, name, s)
	}
	var key, value []string
	inValue := false
	flush := func() error {
		if len(key) == 0 {
			return fmt.Errorf("table %s set %s: empty element in %q", t, name, s)
		}
		var v []string
		if len(value) > 0 {
			v = []string{strings.Join(value, " ")}
		}
		err := t.addElement(name, []string{strings.Join(key, " ")}, v)
		key, value, inValue = nil, nil, false
		return err
	}
	for i := 2; i < len(toks)-1; i++ {
		switch tok := toks[i]; {
		case tok == ",":
			if err := flush(); err != nil {
				return err
			}
		case tok == ":" && !inValue:
			inValue = true
		case tok == "timeout" || tok == "expires" || tok == "comment":
			i++
		case tok == "counter":
			if i+4 < len(toks) && toks[i+1] == "packets" && toks[i+3] == "bytes" {
				i += 4
			}
		case inValue:
			value = append(value, tok)
		default:
			key = append(key, tok)
		}
	}
	if inValue && len(value) == 0 {
		return fmt.Errorf("table %s map %s: element without a value in %q", t, name, s)
	}
	return flush()
}
