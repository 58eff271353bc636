// Package view renders what the CLI shows people: the scan table (plain, or redrawn in place
// on a terminal) and the GATT service tree. It is pure: functions return strings; the caller
// writes them.
package view

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/value"
)

// Device is one row of the scan table. Its strings are as the device sent them; ScanTable and
// PlainScanLine show them escaped (Escape).
type Device struct {
	Address      string
	Name         string
	RSSI         int
	LastSeen     time.Time
	Manufacturer string // e.g. "Silicon Labs 0102…"
	Adverts      int    // advertisements received
}

// DeviceFromResult builds a row from a scan result seen at t.
func DeviceFromResult(r gogatt.ScanResult, t time.Time) Device {
	return Device{Address: r.Address, Name: DeviceName(r), RSSI: r.RSSI, LastSeen: t, Manufacturer: Manufacturer(r.Data)}
}

// DeviceName returns the name a device advertises, "" when none.
func DeviceName(r gogatt.ScanResult) string {
	if r.Name != "" {
		return r.Name
	}
	return r.Data.LocalName
}

// Manufacturer renders the manufacturer-specific data of d: company name and the first bytes in
// hex, e.g. "Silicon Labs 0102ab"; several companies are separated by ", ".
func Manufacturer(d gogatt.AdvertisementData) string {
	ids := make([]int, 0, len(d.ManufacturerData))
	for id := range d.ManufacturerData {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		b := d.ManufacturerData[uint16(id)]
		h := value.Hex(b)
		if len(b) > 8 {
			h = value.Hex(b[:8]) + "…"
		}
		parts = append(parts, strings.TrimSpace(value.CompanyName(uint16(id))+" "+h))
	}
	return strings.Join(parts, ", ")
}

// SortDevices orders rows by address, so that rows do not jump around as the table refreshes.
func SortDevices(ds []Device) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].Address < ds[j].Address })
}

// Ago renders the time since t: "now", "0.4s", "12s", "3m05s".
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 100*time.Millisecond:
		return "now"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// ScanTable renders rows (already sorted) as aligned lines: a header, then one line per device.
// Every line is cut to width columns (0 = no limit) so that a terminal never wraps it. What the
// device sent is shown escaped (Escape), and the columns are as wide as the escaped text.
func ScanTable(rows []Device, now time.Time, width int) []string {
	nameW := len("NAME")
	for _, r := range rows {
		nameW = max(nameW, min(utf8.RuneCountInString(Escape(r.Name)), 24))
	}
	line := func(addr, name, rssi, seen, manu string) string {
		return Fit(fmt.Sprintf("%-17s  %-*s  %4s  %9s  %s", addr, nameW, Fit(name, nameW), rssi, seen, manu), width)
	}
	out := []string{line("ADDRESS", "NAME", "RSSI", "LAST SEEN", "MANUFACTURER")}
	for _, r := range rows {
		name := Escape(r.Name)
		if name == "" {
			name = "-"
		}
		out = append(out, line(Escape(r.Address), name, fmt.Sprint(r.RSSI), Ago(now, r.LastSeen), Escape(r.Manufacturer)))
	}
	return out
}

// ScanStatus is the line under the live table.
func ScanStatus(n int, remaining time.Duration, done bool, elapsed time.Duration) string {
	dev := "devices"
	if n == 1 {
		dev = "device"
	}
	if done {
		return fmt.Sprintf("Scan finished: %d %s in %.1fs.", n, dev, elapsed.Seconds())
	}
	return fmt.Sprintf("Scanning: %d %s, %ds left (Ctrl-C to stop)", n, dev, int((remaining+time.Second-1)/time.Second))
}

// PlainScanLine is the line written per device when stdout is not a terminal; what the device
// sent is shown escaped (Escape).
func PlainScanLine(r Device) string {
	name := Escape(r.Name)
	if name == "" {
		name = "-"
	}
	s := fmt.Sprintf("%s  %4d dBm  %s", Escape(r.Address), r.RSSI, name)
	if r.Manufacturer != "" {
		s += "  [" + Escape(r.Manufacturer) + "]"
	}
	return s
}

// Fit cuts s to width runes, ending in "…" when cut; width ≤ 0 means no limit.
func Fit(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// Live redraws a block of lines in place on an ANSI terminal: each Frame moves the cursor back
// to the top of the previous block, rewrites every line (clearing what was there) and clears
// anything below. The zero value is ready to use.
type Live struct {
	prev int
}

// Frame returns the bytes that replace the previous block with lines.
func (l *Live) Frame(lines []string) string {
	var b strings.Builder
	if l.prev > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", l.prev)
	}
	for _, s := range lines {
		b.WriteString(s)
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J")
	l.prev = len(lines)
	return b.String()
}

// Escape sequences to hide and show the cursor while the live table runs.
const (
	HideCursor = "\x1b[?25l"
	ShowCursor = "\x1b[?25h"
)
