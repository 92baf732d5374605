// Package ipam hands out pod addresses from a node's pod CIDRs. Its store is one JSON file
// per network under the plugin's data directory: it survives restarts and reboots, and many
// plugin processes share it safely through an flock'd lock file and atomic replacement.
package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/weftnet/weft/internal/atomicfile"
)

// ErrExhausted is returned, wrapped, when a pod CIDR has no free address left.
var ErrExhausted = errors.New("no free address")

// Key names one attachment: the runtime's container ID and the interface name in the pod.
type Key struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

func (k Key) String() string { return k.ContainerID + "/" + k.IfName }

// Lease is the addresses one attachment holds, one per pod CIDR.
type Lease struct {
	Key
	IPs []netip.Addr `json:"ips"`
}

// Store is the lease database of one network.
type Store struct {
	dir string
}

const (
	stateFile = "leases.json"
	lockFile  = "lock"
)

// Open returns the store of network under dataDir, creating its directory if needed.
func Open(dataDir, network string) (*Store, error) {
	if network == "" || network != filepath.Base(network) || network == "." || network == ".." {
		return nil, fmt.Errorf("network name %q cannot name a directory", network)
	}
	dir := filepath.Join(dataDir, network)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create IPAM store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is where the store keeps its files.
func (s *Store) Dir() string { return s.dir }

// Allocate gives key one address in each range, in the order of ranges. A key that already
// holds addresses in the ranges keeps them, so a retried ADD gets the same addresses.
// created tells whether this call made the lease, so a failed ADD undoes only its own work.
// A range without a free address fails the whole call with ErrExhausted and changes nothing.
func (s *Store) Allocate(key Key, ranges []netip.Prefix) (ips []netip.Addr, created bool, err error) {
	err = s.update(func(st *state) error {
		old, held := st.find(key)
		taken := st.taken()
		ips = make([]netip.Addr, 0, len(ranges))
		for _, r := range ranges {
			sp := newSpan(r)
			if held {
				if i := slices.IndexFunc(st.Leases[old].IPs, sp.usable); i >= 0 {
					ips = append(ips, st.Leases[old].IPs[i])
					continue
				}
			}
			a, ok := sp.scan(st.Last[sp.prefix.String()], func(a netip.Addr) bool { _, t := taken[a]; return !t })
			if !ok {
				return fmt.Errorf("pod CIDR %s: %w", sp.prefix, ErrExhausted)
			}
			st.Last[sp.prefix.String()] = a
			taken[a] = key
			ips = append(ips, a)
		}
		if held {
			st.Leases[old].IPs = ips
		} else {
			st.Leases = append(st.Leases, Lease{Key: key, IPs: ips})
		}
		created = !held
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return ips, created, nil
}

// Release frees the addresses of key. Releasing a key without a lease is not an error;
// found tells whether there was one.
func (s *Store) Release(key Key) (found bool, err error) {
	err = s.update(func(st *state) error {
		i, ok := st.find(key)
		if ok {
			st.Leases = slices.Delete(st.Leases, i, i+1)
		}
		found = ok
		return nil
	})
	return found, err
}

// Retain frees every lease whose key keep rejects, and returns the freed leases.
func (s *Store) Retain(keep func(Key) bool) (freed []Lease, err error) {
	err = s.update(func(st *state) error {
		st.Leases = slices.DeleteFunc(st.Leases, func(l Lease) bool {
			if keep(l.Key) {
				return false
			}
			freed = append(freed, l)
			return true
		})
		return nil
	})
	return freed, err
}

// Get returns the lease of key.
func (s *Store) Get(key Key) (Lease, bool, error) {
	st, err := s.read()
	if err != nil {
		return Lease{}, false, err
	}
	i, ok := st.find(key)
	if !ok {
		return Lease{}, false, nil
	}
	return st.Leases[i], true, nil
}

// Leases returns every lease.
func (s *Store) Leases() ([]Lease, error) {
	st, err := s.read()
	if err != nil {
		return nil, err
	}
	return st.Leases, nil
}

// Available returns nil when every range has a free address, or an error wrapping
// ErrExhausted that names the first full range.
func (s *Store) Available(ranges []netip.Prefix) error {
	st, err := s.read()
	if err != nil {
		return err
	}
	taken := st.taken()
	for _, r := range ranges {
		sp := newSpan(r)
		if _, ok := sp.scan(st.Last[sp.prefix.String()], func(a netip.Addr) bool { _, t := taken[a]; return !t }); !ok {
			return fmt.Errorf("pod CIDR %s: %w", sp.prefix, ErrExhausted)
		}
	}
	return nil
}

// state is the file's content.
type state struct {
	Version int `json:"version"`
	// Last is the address most recently handed out per range, so allocation goes round
	// robin and a freed address is not given to the next pod at once.
	Last   map[string]netip.Addr `json:"last"`
	Leases []Lease               `json:"leases"`
}

const stateVersion = 1

func (st *state) find(key Key) (int, bool) {
	i := slices.IndexFunc(st.Leases, func(l Lease) bool { return l.Key == key })
	return i, i >= 0
}

func (st *state) taken() map[netip.Addr]Key {
	m := make(map[netip.Addr]Key, len(st.Leases)*2)
	for _, l := range st.Leases {
		for _, a := range l.IPs {
			m[a] = l.Key
		}
	}
	return m
}

func (s *Store) read() (*state, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.load()
}

// update runs fn on the current state under the exclusive lock and saves the result when
// fn succeeds.
func (s *Store) update(fn func(*state) error) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return s.save(st)
}

func (s *Store) load() (*state, error) {
	path := filepath.Join(s.dir, stateFile)
	st := &state{Version: stateVersion, Last: map[string]netip.Addr{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read IPAM store: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("IPAM store %s is corrupt (%w): restore it from a backup, or move it aside to start with no leases (pods still running keep their addresses, but the store no longer protects them)", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("IPAM store %s has version %d; this weft-cni reads version %d", path, st.Version, stateVersion)
	}
	if st.Last == nil {
		st.Last = map[string]netip.Addr{}
	}
	return st, nil
}

func (s *Store) save(st *state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode IPAM store: %w", err)
	}
	return atomicfile.Write(filepath.Join(s.dir, stateFile), data, 0o600)
}
