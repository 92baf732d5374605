package nfttrace

import (
	"fmt"
	"slices"
	"strings"
)

// maxBranches bounds TraceAll: a ruleset that draws numgen at every step could otherwise
// multiply its branches without end.
const maxBranches = 4096

// TraceAll traces p once for every combination of `numgen random` results the packet can
// meet, ordered by the choices taken (Result.Choices). env.Numgen is ignored.
func (rs *Ruleset) TraceAll(p Packet, env Env) ([]*Result, error) {
	var out []*Result
	var explore func(prefix []int) error
	explore = func(prefix []int) error {
		if len(out) >= maxBranches {
			return fmt.Errorf("more than %d numgen branches", maxBranches)
		}
		env.Numgen = prefix
		r, err := rs.Trace(p, env)
		if err != nil {
			return err
		}
		out = append(out, r)
		// Each choice drawn after the given prefix could have gone another way.
		for j := len(prefix); j < len(r.Choices); j++ {
			for k := 1; k < r.Choices[j].Mod; k++ {
				next := append(picks(r.Choices[:j]), k)
				if err := explore(next); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := explore(nil); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *Result) int { return slices.Compare(picks(a.Choices), picks(b.Choices)) })
	return out, nil
}

func picks(cs []Choice) []int {
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.Picked
	}
	return out
}

// String writes the trace for people: one line a step, then the outcome.
func (r *Result) String() string {
	var b strings.Builder
	for _, s := range r.Steps {
		if s.Chain == "" {
			fmt.Fprintf(&b, "%s: %s\n", s.Hook, s.Action)
			continue
		}
		fmt.Fprintf(&b, "%s %s %s:", s.Hook, s.Table, s.Chain)
		if s.Rule != "" {
			fmt.Fprintf(&b, " [%s]", s.Rule)
		}
		if len(s.Matched) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(s.Matched, ", "))
		}
		if s.Action != "" {
			fmt.Fprintf(&b, " -> %s", s.Action)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s, to %s", r.Verdict, r.Dst)
	if r.DNAT {
		b.WriteString(" (dnat)")
	}
	if r.Masquerade {
		b.WriteString(", masqueraded")
	}
	if r.SNAT.IsValid() {
		fmt.Fprintf(&b, ", snat to %s", r.SNAT)
	}
	fmt.Fprintf(&b, ", mark 0x%x, path %s\n", r.Mark, strings.Join(r.Path, " > "))
	return b.String()
}
