package nft

import (
	"slices"
	"strings"
	"time"
)

// Family is a table's address family, as nft spells it.
type Family string

const (
	InetFamily Family = "inet"
	IPFamily   Family = "ip"
	IP6Family  Family = "ip6"
)

// Chain is a chain and its rules. A base chain has a Hook; a regular one is reached by jump or
// goto from another.
type Chain struct {
	Name    string
	Hook    *Hook
	Comment string
	Rules   []Rule
}

// Hook makes a base chain: its type ("filter", "nat", "route"), hook ("prerouting", "input",
// "forward", "output", "postrouting") and priority ("dstnat", "filter - 10", "-110").
type Hook struct {
	Type, Hook, Priority string
}

// Rule is one rule in nft's syntax, without its comment, which goes in Comment (at most 128
// bytes; nft refuses longer).
type Rule struct {
	Text    string
	Comment string
}

// Set is a set or, when its type has a " : " (a key type and a value type), a map. Type is
// in nft's type names ("ipv4_addr . inet_service"), TypeOf in expressions ("ip daddr . tcp
// dport"); one of the two. A declaration does not change in place: a Set of the same name
// with another declaration makes the next sync rebuild the table whole, so give a set whose
// declaration varies (a timeout) a name that carries it.
type Set struct {
	Name         string
	Type, TypeOf string
	// Flags are nft's set flags: "interval", "dynamic", "timeout", "constant".
	Flags   []string
	Timeout time.Duration
	Comment string
}

// IsMap says whether s maps keys to values.
func (s *Set) IsMap() bool { return strings.Contains(s.Type+s.TypeOf, " : ") }

// Element is an element of a set (Value nil) or a map. Key and Value hold one string per
// field of a concatenation ("10.43.0.1", "tcp", "80"); a verdict is one value ("goto chain",
// "jump chain", "return", "accept", "drop"). In a set with the interval flag a key field may
// be a range: a prefix ("10.42.0.0/16") or lo-hi ("10.42.0.0-10.42.2.1", "0-79"). Comment
// says what the element stands for (at most 128 bytes), as a rule's does.
type Element struct {
	Set        string
	Key, Value []string
	Comment    string
}

func (e *Element) id() string { return e.Set + "\x00" + strings.Join(e.Key, " . ") }

func sameChain(a, b *Chain) bool {
	return a.Comment == b.Comment && sameHook(a.Hook, b.Hook) && slices.Equal(a.Rules, b.Rules)
}

func sameHook(a, b *Hook) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func sameSet(a, b *Set) bool {
	return a.Type == b.Type && a.TypeOf == b.TypeOf && slices.Equal(a.Flags, b.Flags) && a.Timeout == b.Timeout && a.Comment == b.Comment
}

// Contents is everything one owner puts in a table. Two owners may want the same object:
// the first of them by name wins, and the others' versions wait until it lets go.
type Contents struct {
	Chains   map[string]*Chain
	Sets     map[string]*Set
	Elements map[string]*Element
}

// NewContents is an empty Contents.
func NewContents() *Contents {
	return &Contents{Chains: map[string]*Chain{}, Sets: map[string]*Set{}, Elements: map[string]*Element{}}
}

// AddChain puts c in, replacing a chain of the same name.
func (c *Contents) AddChain(ch *Chain) { c.Chains[ch.Name] = ch }

// AddRules appends rules to a chain, making it (a regular chain) on first use.
func (c *Contents) AddRules(chain string, rules ...Rule) {
	ch := c.Chains[chain]
	if ch == nil {
		ch = &Chain{Name: chain}
		c.Chains[chain] = ch
	}
	ch.Rules = append(ch.Rules, rules...)
}

// AddSet puts a set or map declaration in.
func (c *Contents) AddSet(s *Set) { c.Sets[s.Name] = s }

// AddElement puts an element in: of a set (no value) or a map.
func (c *Contents) AddElement(set string, key []string, value ...string) {
	c.AddElements(&Element{Set: set, Key: key, Value: value})
}

// AddElements puts whole elements in (with their comments), replacing any of the same set
// and key.
func (c *Contents) AddElements(es ...*Element) {
	for _, e := range es {
		c.Elements[e.id()] = e
	}
}

func (c *Contents) ids() []objectID {
	ids := make([]objectID, 0, len(c.Chains)+len(c.Sets)+len(c.Elements))
	for n := range c.Chains {
		ids = append(ids, objectID{chainObject, n})
	}
	for n := range c.Sets {
		ids = append(ids, objectID{setObject, n})
	}
	for n := range c.Elements {
		ids = append(ids, objectID{elementObject, n})
	}
	return ids
}

// objectID names an object: its kind and its name (for an element, its set and key).
type objectID struct {
	kind objectKind
	name string
}

type objectKind uint8

const (
	chainObject objectKind = iota
	setObject
	elementObject
)
