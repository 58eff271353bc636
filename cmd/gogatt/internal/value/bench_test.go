package value

import (
	"encoding/binary"
	"testing"
)

func BenchmarkParseHex(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHex("01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInts(b *testing.B) {
	spec := IntSpec{Size: 2, Signed: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseInts("-300, 7, 0x7fff", spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeqCounter measures the per-value cost of `subscribe --seq` bookkeeping, with one
// value in 100 lost and one in 1000 late.
func BenchmarkSeqCounter(b *testing.B) {
	var c SeqCounter
	v := make([]byte, 20)
	var seq uint32
	b.ReportAllocs()
	for b.Loop() {
		seq++
		if seq%100 == 0 {
			seq++
		}
		binary.LittleEndian.PutUint32(v, seq)
		c.Observe(v)
	}
	b.ReportMetric(float64(c.Lost()), "lost")
}
