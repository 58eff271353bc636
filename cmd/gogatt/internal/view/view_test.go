package view

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                       "now",
		50 * time.Millisecond:   "now",
		400 * time.Millisecond:  "0.4s",
		9500 * time.Millisecond: "9.5s",
		12 * time.Second:        "12s",
		185 * time.Second:       "3m05s",
	} {
		if got := Ago(now, now.Add(-d)); got != want {
			t.Errorf("Ago(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"hello", 0, "hello"},
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"héllo wörld", 6, "héllo…"},
	} {
		if got := Fit(tc.in, tc.width); got != tc.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

func TestScanTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	rows := []Device{
		{Address: "C0:FF:EE:00:00:02", Name: "gogatt Thermometer", RSSI: -70, LastSeen: now.Add(-1500 * time.Millisecond)},
		{Address: "C0:FF:EE:00:00:01", Name: "gogatt HRM", RSSI: -52, LastSeen: now, Manufacturer: "Silicon Labs 0102"},
		{Address: "AA:BB:CC:DD:EE:FF", RSSI: -90, LastSeen: now.Add(-20 * time.Second)},
	}
	SortDevices(rows)
	got := strings.Join(ScanTable(rows, now, 0), "\n")
	want := strings.Join([]string{
		"ADDRESS            NAME                RSSI  LAST SEEN  MANUFACTURER",
		"AA:BB:CC:DD:EE:FF  -                    -90        20s  ",
		"C0:FF:EE:00:00:01  gogatt HRM           -52        now  Silicon Labs 0102",
		"C0:FF:EE:00:00:02  gogatt Thermometer   -70       1.5s  ",
	}, "\n")
	if got != want {
		t.Errorf("ScanTable:\n%s\nwant:\n%s", got, want)
	}
	for _, l := range ScanTable(rows, now, 40) {
		if n := len([]rune(l)); n > 40 {
			t.Errorf("line of %d runes exceeds width 40: %q", n, l)
		}
	}
}

func TestScanStatusAndPlain(t *testing.T) {
	if got := ScanStatus(2, 3200*time.Millisecond, false, 0); got != "Scanning: 2 devices, 4s left (Ctrl-C to stop)" {
		t.Errorf("status = %q", got)
	}
	if got := ScanStatus(1, 0, true, 5*time.Second); got != "Scan finished: 1 device in 5.0s." {
		t.Errorf("status = %q", got)
	}
	if got := PlainScanLine(Device{Address: "C0:FF:EE:00:00:01", Name: "x", RSSI: -5, Manufacturer: "Apple 01"}); got != "C0:FF:EE:00:00:01    -5 dBm  x  [Apple 01]" {
		t.Errorf("plain = %q", got)
	}
}

func TestManufacturer(t *testing.T) {
	d := gogatt.AdvertisementData{ManufacturerData: map[uint16][]byte{0x02ff: {1, 2}, 0x004c: {1, 2, 3, 4, 5, 6, 7, 8, 9}}}
	if got := Manufacturer(d); got != "Apple 0102030405060708…, Silicon Labs 0102" {
		t.Errorf("Manufacturer = %q", got)
	}
	if got := Manufacturer(gogatt.AdvertisementData{}); got != "" {
		t.Errorf("Manufacturer(empty) = %q", got)
	}
}

func TestLive(t *testing.T) {
	var l Live
	if got := l.Frame([]string{"a", "b"}); got != "a\x1b[K\nb\x1b[K\n\x1b[J" {
		t.Errorf("first frame = %q", got)
	}
	if got := l.Frame([]string{"c"}); got != "\r\x1b[2Ac\x1b[K\n\x1b[J" {
		t.Errorf("second frame = %q", got)
	}
}

func demoTree() []gogatt.Service {
	return []gogatt.Service{
		{UUID: bt.UUID16(0x180d), Handle: 0x0c, EndHandle: 0x11, Characteristics: []gogatt.Characteristic{
			{UUID: bt.UUID16(0x2a37), Handle: 0x0d, ValueHandle: 0x0e, Properties: gogatt.PropNotify, Descriptors: []gogatt.Descriptor{{UUID: bt.UUID16(0x2902), Handle: 0x0f}}},
			{UUID: bt.UUID16(0x2a38), Handle: 0x10, ValueHandle: 0x11, Properties: gogatt.PropRead},
		}},
		{UUID: bt.MustParseUUID("6e400001-b5a3-f393-e0a9-e50e24dcca9e"), Handle: 0x12, EndHandle: 0x16, Characteristics: []gogatt.Characteristic{
			{UUID: bt.UUID16(0x2a99), Handle: 0x13, ValueHandle: 0x14, Properties: gogatt.PropWrite | gogatt.PropIndicate, Descriptors: []gogatt.Descriptor{{UUID: bt.UUID16(0x2901), Handle: 0x15}, {UUID: bt.UUID16(0x2902), Handle: 0x16}}},
		}},
	}
}

func TestTree(t *testing.T) {
	got := strings.Join(Tree(demoTree()), "\n")
	want := strings.Join([]string{
		"[0x000c-0x0011] 180d Heart Rate",
		"  ├─ [0x000e] 2a37 Heart Rate Measurement  notify",
		"  │   └─ [0x000f] 2902 Client Characteristic Configuration",
		"  └─ [0x0011] 2a38 Body Sensor Location  read",
		"[0x0012-0x0016] 6e400001-b5a3-f393-e0a9-e50e24dcca9e",
		"  └─ [0x0014] 2a99  write,indicate",
		"      ├─ [0x0015] 2901 Characteristic User Description",
		"      └─ [0x0016] 2902 Client Characteristic Configuration",
	}, "\n")
	if got != want {
		t.Errorf("Tree:\n%s\nwant:\n%s", got, want)
	}
	if s := TreeSummary(demoTree()); s != "2 services, 3 characteristics, 3 descriptors" {
		t.Errorf("summary = %q", s)
	}
}

func TestTreeJSON(t *testing.T) {
	b, err := json.Marshal(TreeJSON(demoTree()[:1]))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"uuid":"0000180d-0000-1000-8000-00805f9b34fb","name":"Heart Rate","handle":12,"endHandle":17,"characteristics":[` +
		`{"uuid":"00002a37-0000-1000-8000-00805f9b34fb","name":"Heart Rate Measurement","handle":13,"valueHandle":14,"properties":["notify"],"descriptors":[{"uuid":"00002902-0000-1000-8000-00805f9b34fb","name":"Client Characteristic Configuration","handle":15}]},` +
		`{"uuid":"00002a38-0000-1000-8000-00805f9b34fb","name":"Body Sensor Location","handle":16,"valueHandle":17,"properties":["read"],"descriptors":[]}]}]`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b, want)
	}
}
