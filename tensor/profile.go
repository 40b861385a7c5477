package tensor

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Profile accumulates the time a tape spends per op and label (Scope), for
// a per-layer breakdown of a training step. The forward time of an op is
// the time since the previous op finished (so it includes the layer code
// between ops); the backward time is that of its VJP.
type Profile struct {
	entries map[[2]string]*ProfileEntry
}

// ProfileEntry is the time of one op kind under one label.
type ProfileEntry struct {
	Label, Op         string
	Calls             int
	Forward, Backward time.Duration
}

// NewProfile returns an empty profile.
func NewProfile() *Profile { return &Profile{entries: map[[2]string]*ProfileEntry{}} }

func (p *Profile) entry(label, op string) *ProfileEntry {
	k := [2]string{label, op}
	e := p.entries[k]
	if e == nil {
		e = &ProfileEntry{Label: label, Op: op}
		p.entries[k] = e
	}
	return e
}

// Entries returns the entries, the most expensive first.
func (p *Profile) Entries() []ProfileEntry {
	out := make([]ProfileEntry, 0, len(p.entries))
	for _, e := range p.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].Forward+out[i].Backward, out[j].Forward+out[j].Backward
		if ti != tj {
			return ti > tj
		}
		return out[i].Label+out[i].Op < out[j].Label+out[j].Op
	})
	return out
}

// ByLabel sums the entries per label, the most expensive first.
func (p *Profile) ByLabel() []ProfileEntry {
	sums := map[string]*ProfileEntry{}
	for _, e := range p.entries {
		s := sums[e.Label]
		if s == nil {
			s = &ProfileEntry{Label: e.Label, Op: "*"}
			sums[e.Label] = s
		}
		s.Calls += e.Calls
		s.Forward += e.Forward
		s.Backward += e.Backward
	}
	q := &Profile{entries: map[[2]string]*ProfileEntry{}}
	for l, s := range sums {
		q.entries[[2]string{l, "*"}] = s
	}
	return q.Entries()
}

// String formats the entries as a table, per label and then per op.
func (p *Profile) String() string {
	var b strings.Builder
	row := func(e ProfileEntry) {
		fmt.Fprintf(&b, "%-14s %-18s %7d %10.3fs %10.3fs %10.3fs\n", e.Label, e.Op, e.Calls,
			e.Forward.Seconds(), e.Backward.Seconds(), (e.Forward + e.Backward).Seconds())
	}
	fmt.Fprintf(&b, "%-14s %-18s %7s %11s %11s %11s\n", "label", "op", "calls", "forward", "backward", "total")
	for _, e := range p.ByLabel() {
		row(e)
	}
	for _, e := range p.Entries() {
		row(e)
	}
	return b.String()
}

// SetProfile makes the tape add the time of its ops to p (nil stops it).
func (tp *Tape) SetProfile(p *Profile) {
	tp.prof = p
	tp.lastOp = time.Now()
}
