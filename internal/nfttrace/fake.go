package nfttrace

import (
	"errors"
	"maps"
	"slices"

	"sigs.k8s.io/knftables"
)

// FromFake reads the tables that knftables fakes hold (every table of every fake given, so
// that, say, the service proxy's and the egress masquerade's tables are traced together).
// It reads the fakes' structure rather than their Dump text: declarations need no parsing,
// only rule text does. Any rule, set type or element the tracer cannot simulate is an error
// that names it; all of them are reported at once.
func FromFake(fakes ...*knftables.Fake) (*Ruleset, error) {
	rs := &Ruleset{}
	var errs []error
	for _, f := range fakes {
		f.RLock()
		for _, fam := range slices.Sorted(maps.Keys(f.Tables)) {
			for _, name := range slices.Sorted(maps.Keys(f.Tables[fam])) {
				t, err := fromFakeTable(fam, name, f.Tables[fam][name])
				if err != nil {
					errs = append(errs, err)
					continue
				}
				rs.tables = append(rs.tables, t)
			}
		}
		f.RUnlock()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// fromFakeTable takes family and name from the fake's index: a table added without them
// (the fake's default table) leaves its own fields empty.
func fromFakeTable(family knftables.Family, name string, ft *knftables.FakeTable) (*table, error) {
	t, err := newTable(family, name)
	if err != nil {
		return nil, err
	}
	var errs []error
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, name := range slices.Sorted(maps.Keys(ft.Chains)) {
		c := ft.Chains[name]
		var typ, hook, prio, policy string
		if c.Hook != nil {
			typ, hook, policy = str((*string)(c.Type)), string(*c.Hook), str((*string)(c.Policy))
			prio = str((*string)(c.Priority))
		}
		if err := t.addChain(name, typ, hook, prio, policy); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ft.Sets)) {
		s := ft.Sets[name]
		errs = append(errs, addFakeSet(t, name, s.Type, s.TypeOf, false, s.Elements))
	}
	for _, name := range slices.Sorted(maps.Keys(ft.Maps)) {
		m := ft.Maps[name]
		errs = append(errs, addFakeSet(t, name, m.Type, m.TypeOf, true, m.Elements))
	}
	for _, name := range slices.Sorted(maps.Keys(ft.Chains)) {
		for _, r := range ft.Chains[name].Rules {
			errs = append(errs, t.addRule(name, r.Rule))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, t.check()
}

func addFakeSet(t *table, name, typ, typeOf string, isMap bool, elems []*knftables.Element) error {
	if err := t.addSet(name, typ, typeOf, isMap); err != nil {
		return err
	}
	var errs []error
	for _, e := range elems {
		errs = append(errs, t.addElement(name, e.Key, e.Value))
	}
	return errors.Join(errs...)
}
