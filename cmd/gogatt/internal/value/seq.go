package value

import "encoding/binary"

// maxTrackedGap bounds the memory SeqCounter spends remembering missing sequence numbers; a
// larger jump is counted as lost without remembering each number (a late arrival from such a
// gap then counts as a duplicate-or-late value).
const maxTrackedGap = 1 << 16

// SeqCounter counts values that start with a 4-byte little-endian sequence number, as the sim
// package's notification generator sends them: how many arrived, how many are missing, how many
// came out of order or twice. The first value seen sets the starting point. Not safe for
// concurrent use.
type SeqCounter struct {
	Count      uint64 // values observed
	OutOfOrder uint64 // values whose number was lower than one already seen
	Duplicates uint64 // values whose number had already been seen (or was too old to tell)
	Short      uint64 // values shorter than 4 bytes (no sequence number)

	started   bool
	next      uint32 // the number expected next
	missing   map[uint32]struct{}
	untracked uint64 // lost values beyond maxTrackedGap
	First     uint32 // first sequence number seen
}

// Observe records one value.
func (c *SeqCounter) Observe(v []byte) {
	c.Count++
	if len(v) < 4 {
		c.Short++
		return
	}
	seq := binary.LittleEndian.Uint32(v)
	if !c.started {
		c.started, c.First, c.next = true, seq, seq+1
		return
	}
	switch d := int64(seq) - int64(c.next); {
	case d == 0:
		c.next++
	case d > 0:
		if d <= maxTrackedGap {
			if c.missing == nil {
				c.missing = make(map[uint32]struct{})
			}
			for s := c.next; s != seq; s++ {
				c.missing[s] = struct{}{}
			}
		} else {
			c.untracked += uint64(d)
		}
		c.next = seq + 1
		if len(c.missing) > 2*maxTrackedGap {
			c.forgetOld()
		}
	default:
		c.OutOfOrder++
		if _, ok := c.missing[seq]; ok {
			delete(c.missing, seq)
		} else {
			c.Duplicates++
		}
	}
}

// forgetOld stops remembering missing numbers more than maxTrackedGap behind the newest: they
// stay counted as lost, and a very late arrival of one counts as a duplicate.
func (c *SeqCounter) forgetOld() {
	for s := range c.missing {
		if c.next-s > maxTrackedGap {
			delete(c.missing, s)
			c.untracked++
		}
	}
}

// Lost returns how many sequence numbers between the first and the highest seen never arrived.
func (c *SeqCounter) Lost() uint64 { return uint64(len(c.missing)) + c.untracked }

// SeqOf returns the sequence number at the start of v.
func SeqOf(v []byte) (uint32, bool) {
	if len(v) < 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(v), true
}
