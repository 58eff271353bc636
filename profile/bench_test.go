package profile

import "testing"

func BenchmarkDecodeHeartRate(b *testing.B) {
	v := []byte{0x16, 75, 0x00, 0x04, 0x00, 0x02}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeHeartRate(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTemperature(b *testing.B) {
	v := []byte{0x06, 0x42, 0x0e, 0x00, 0xfe, 0xea, 0x07, 11, 24, 9, 30, 5, 2}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTemperature(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeHeartRate(b *testing.B) {
	h := HeartRate{BPM: 75, Contact: ContactDetected, RRIntervals: []float64{1, 0.5}}
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
