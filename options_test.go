package gogatt

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConnectOptionsResolve(t *testing.T) {
	ms := time.Millisecond
	us := time.Microsecond
	for _, tc := range []struct {
		name string
		o    ConnectOptions
		want ConnParams
		err  string // substring of the error; "" = valid
	}{
		{"defaults as pygatt", ConnectOptions{}, ConnParams{60, 76, 0, 100}, ""},
		{"minimum interval", ConnectOptions{IntervalMin: 7500 * us, IntervalMax: 7500 * us}, ConnParams{6, 6, 0, 100}, ""},
		{"maximum interval", ConnectOptions{IntervalMin: 4 * time.Second, IntervalMax: 4 * time.Second, SupervisionTimeout: 32 * time.Second}, ConnParams{3200, 3200, 0, 3200}, ""},
		{"below minimum", ConnectOptions{IntervalMin: 6250 * us, IntervalMax: 10 * ms}, ConnParams{}, "IntervalMin 6.25ms out of range"},
		{"above maximum", ConnectOptions{IntervalMin: 10 * ms, IntervalMax: 4001250 * us}, ConnParams{}, "IntervalMax 4.00125s out of range"},
		{"negative", ConnectOptions{IntervalMin: -time.Millisecond}, ConnParams{}, "out of range"},
		{"not a multiple of 1.25 ms", ConnectOptions{IntervalMin: 8 * ms, IntervalMax: 10 * ms}, ConnParams{}, "IntervalMin 8ms is not a multiple of 1.25 ms"},
		{"min above max", ConnectOptions{IntervalMin: 20 * ms, IntervalMax: 10 * ms}, ConnParams{}, "exceeds IntervalMax"},
		{"only max, small", ConnectOptions{IntervalMax: 15 * ms}, ConnParams{12, 12, 0, 100}, ""},
		{"only max, large", ConnectOptions{IntervalMax: 200 * ms}, ConnParams{60, 160, 0, 100}, ""},
		{"only min, large", ConnectOptions{IntervalMin: 150 * ms}, ConnParams{120, 120, 0, 100}, ""},
		{"only min, small", ConnectOptions{IntervalMin: 10 * ms}, ConnParams{8, 76, 0, 100}, ""},
		{"latency", ConnectOptions{Latency: 4}, ConnParams{60, 76, 4, 100}, ""},
		{"latency max", ConnectOptions{IntervalMin: 7500 * us, IntervalMax: 7500 * us, Latency: 499, SupervisionTimeout: 8 * time.Second}, ConnParams{6, 6, 499, 800}, ""},
		{"latency too big", ConnectOptions{Latency: 500}, ConnParams{}, "Latency 500 out of range"},
		{"latency negative", ConnectOptions{Latency: -1}, ConnParams{}, "Latency -1"},
		{"supervision min", ConnectOptions{IntervalMin: 7500 * us, IntervalMax: 10 * ms, SupervisionTimeout: 100 * ms}, ConnParams{6, 8, 0, 10}, ""},
		{"supervision below min", ConnectOptions{SupervisionTimeout: 90 * ms}, ConnParams{}, "SupervisionTimeout 90ms out of range"},
		{"supervision above max", ConnectOptions{SupervisionTimeout: 32010 * ms}, ConnParams{}, "out of range"},
		{"supervision not multiple of 10 ms", ConnectOptions{SupervisionTimeout: 1005 * ms}, ConnParams{}, "not a multiple of 10 ms"},
		// Core v5.3 Vol 4 Part E §7.8.12: Supervision_Timeout > (1+Latency)·Interval_Max·2.
		{"supervision rule equal is rejected", ConnectOptions{IntervalMax: 100 * ms, SupervisionTimeout: 200 * ms}, ConnParams{}, "must exceed (1+Latency)·IntervalMax·2 = 200ms"},
		{"supervision rule just above", ConnectOptions{IntervalMax: 100 * ms, SupervisionTimeout: 210 * ms}, ConnParams{60, 80, 0, 21}, ""},
		{"supervision rule with latency", ConnectOptions{Latency: 9, SupervisionTimeout: time.Second}, ConnParams{}, "= 1.9s"},
		{"default supervision grows with interval", ConnectOptions{IntervalMin: time.Second, IntervalMax: time.Second}, ConnParams{800, 800, 0, 201}, ""},
		{"default supervision grows with latency", ConnectOptions{Latency: 9}, ConnParams{60, 76, 9, 191}, ""},
		{"default supervision cannot fit", ConnectOptions{IntervalMax: 4 * time.Second, Latency: 3}, ConnParams{}, "must exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.o.Resolve()
			checkResolve(t, got, err, tc.want, tc.err)
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	if d := (ConnectOptions{}).ConnectTimeout(); d != 5*time.Second {
		t.Errorf("default %v", d)
	}
	if d := (ConnectOptions{Timeout: -1}).ConnectTimeout(); d != 5*time.Second {
		t.Errorf("negative %v", d)
	}
	if d := (ConnectOptions{Timeout: time.Second}).ConnectTimeout(); d != time.Second {
		t.Errorf("set %v", d)
	}
	if d := (ScanOptions{}).ScanTimeout(); d != 10*time.Second {
		t.Errorf("scan default %v", d)
	}
	if d := (ScanOptions{Timeout: 2 * time.Second}).ScanTimeout(); d != 2*time.Second {
		t.Errorf("scan set %v", d)
	}
}

func TestScanOptionsResolve(t *testing.T) {
	ms := time.Millisecond
	us := time.Microsecond
	for _, tc := range []struct {
		name string
		o    ScanOptions
		want ScanParams
		err  string
	}{
		{"defaults", ScanOptions{}, ScanParams{320, 80}, ""},
		{"minimum", ScanOptions{Interval: 2500 * us, Window: 2500 * us}, ScanParams{4, 4}, ""},
		{"maximum", ScanOptions{Interval: 10240 * ms, Window: 10240 * ms}, ScanParams{0x4000, 0x4000}, ""},
		{"window defaults to min(50ms, interval)", ScanOptions{Interval: 30 * ms}, ScanParams{48, 48}, ""},
		{"only window", ScanOptions{Window: 100 * ms}, ScanParams{320, 160}, ""},
		{"interval too small", ScanOptions{Interval: 1875 * us, Window: 1875 * us}, ScanParams{}, "scan Interval 1.875ms out of range"},
		{"interval too large", ScanOptions{Interval: 10240625 * us}, ScanParams{}, "out of range"},
		{"not a multiple", ScanOptions{Interval: 100 * ms, Window: 10100 * us}, ScanParams{}, "scan Window 10.1ms is not a multiple of 0.625 ms"},
		{"window above interval", ScanOptions{Interval: 50 * ms, Window: 100 * ms}, ScanParams{}, "exceeds Interval"},
		{"limited mode", ScanOptions{Mode: DiscoverLimited}, ScanParams{320, 80}, ""},
		{"observation mode", ScanOptions{Mode: DiscoverObservation, Passive: true}, ScanParams{320, 80}, ""},
		{"bad mode", ScanOptions{Mode: 3}, ScanParams{}, "discover mode 3"},
		{"negative mode", ScanOptions{Mode: -1}, ScanParams{}, "discover mode -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.o.Resolve()
			checkResolve(t, got, err, tc.want, tc.err)
		})
	}
}

func TestEnumStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{EventDisconnected.String(), "disconnected"},
		{EventReconnecting.String(), "reconnecting"},
		{EventReconnected.String(), "reconnected"},
		{EventGaveUp.String(), "gave up"},
		{ConnectionEventKind(9).String(), "ConnectionEventKind(9)"},
		{DiscoverGeneric.String(), "generic"},
		{DiscoverLimited.String(), "limited"},
		{DiscoverObservation.String(), "observation"},
		{DiscoverMode(7).String(), "DiscoverMode(7)"},
		{(PropRead | PropNotify).String(), "read|notify"},
		{Properties(0).String(), "none"},
		{Properties(0xff).String(), "broadcast|read|write-without-response|write|notify|indicate|authenticated-signed-writes|extended-properties"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// checkResolve checks a Resolve result: an ErrInvalidParameter containing wantErr when wantErr is
// set, else want and no error.
func checkResolve[P comparable](t *testing.T, got P, err error, want P, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !errors.Is(err, ErrInvalidParameter) {
			t.Fatalf("Resolve() = %+v, %v; want ErrInvalidParameter containing %q", got, err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("Resolve() = %+v, %v; want %+v", got, err, want)
	}
}
