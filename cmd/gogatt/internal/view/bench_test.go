package view

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkScanTableFrame is the cost of one redraw of the live scan table with 50 devices.
func BenchmarkScanTableFrame(b *testing.B) {
	now := time.Now()
	rows := make([]Device, 50)
	for i := range rows {
		rows[i] = Device{Address: fmt.Sprintf("C0:FF:EE:00:00:%02X", i), Name: fmt.Sprintf("device %d", i), RSSI: -40 - i, LastSeen: now, Manufacturer: "Silicon Labs 0102"}
	}
	var l Live
	b.ReportAllocs()
	for b.Loop() {
		SortDevices(rows)
		_ = l.Frame(ScanTable(rows, now, 120))
	}
}
