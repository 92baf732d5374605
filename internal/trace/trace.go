package trace

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/weftnet/weft/internal/nfttrace"
)

// Run traces o's packet through the weft tables of node and writes, for people, what happens
// to it. It returns the outcomes it wrote: one, or with o.All one per random choice.
func Run(ctx context.Context, o Options, node Node, w io.Writer) ([]Outcome, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r, err := load(ctx, node)
	if err != nil {
		return nil, err
	}
	local, err := node.Addrs(ctx)
	if err != nil {
		return nil, err
	}
	p, err := o.packet(local)
	if err != nil {
		return nil, err
	}
	results, err := r.rs.TraceAll(p, nfttrace.Env{LocalAddrs: local})
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", describe(p), err)
	}
	var outcomes []Outcome
	for _, res := range results {
		outcomes = append(outcomes, outcome(res))
	}
	write(w, p, r, outcomes, o.All)
	return outcomes, nil
}

func write(w io.Writer, p nfttrace.Packet, r *rules, outcomes []Outcome, all bool) {
	fmt.Fprintln(w, describe(p))
	fmt.Fprintf(w, "rules: table %s\n", strings.Join(r.read, ", table "))
	for _, l := range r.left {
		fmt.Fprintf(w, "left out, the tracer cannot simulate it: table %s\n", l)
	}
	shown := outcomes[:1]
	if all {
		shown = outcomes
	}
	for i, o := range shown {
		fmt.Fprintln(w)
		if len(shown) > 1 {
			fmt.Fprintf(w, "choice %d of %d:\n", i+1, len(outcomes))
		}
		writeSteps(w, o.Steps)
		fmt.Fprintf(w, "result: %s\n", o)
	}
	switch {
	case len(outcomes) > 1 && !all:
		fmt.Fprintf(w, "\nthe rules pick one of %d ways at random for each new connection; this is the first, --all shows every one\n", len(outcomes))
	case len(outcomes) > 1:
		fmt.Fprintf(w, "\nevery choice, one picked at random for each new connection:\n")
		for i, o := range outcomes {
			fmt.Fprintf(w, "%3d. %s\n", i+1, o)
		}
	}
}

func writeSteps(w io.Writer, steps []nfttrace.Step) {
	for i, s := range steps {
		n := fmt.Sprintf("%2d. %-11s", i+1, s.Hook)
		if s.Chain == "" {
			fmt.Fprintf(w, "%s %s\n", n, s.Action)
			continue
		}
		chain := s.Chain
		if s.Table != ProxyTable {
			chain = s.Table + " " + s.Chain
		}
		if s.Rule == "" || s.Rule == s.Action {
			fmt.Fprintf(w, "%s %s: %s\n", n, chain, s.Action)
			continue
		}
		fmt.Fprintf(w, "%s %s: %s\n", n, chain, s.Rule)
		words, why := gloss(s)
		then := s.Action
		switch {
		case words != "":
			then += ": " + words
		case len(s.Matched) > 0:
			then += " (" + strings.Join(s.Matched, ", ") + ")"
		}
		if why != "" && words == "" {
			then += ": " + why
		}
		fmt.Fprintf(w, "%15s -> %s\n", "", then)
	}
}

// describe says what packet this is: "tcp 10.42.1.5:40000 -> 10.43.0.10:80, ...".
func describe(p nfttrace.Packet) string {
	ep := func(a netip.Addr, port uint16) string {
		if p.Proto == "icmp" || p.Proto == "icmpv6" {
			return a.String()
		}
		return netip.AddrPortFrom(a, port).String()
	}
	where := "a new connection arriving at this node"
	if p.Local {
		where = "a new connection this node sends"
	}
	return fmt.Sprintf("%s %s -> %s, %s", p.Proto, ep(p.Src, p.SPort), ep(p.Dst, p.DPort), where)
}
