package bgapi

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
)

const fakePeer = "C0:FF:EE:00:00:01"

// startFake starts a backend over a fake dongle on an in-process pipe and connects to fakePeer.
func startFake(t *testing.T, cfg Config) (*fakeDongle, *Backend, gogatt.Device) {
	t.Helper()
	f, port := newFake(t)
	cfg.NoReset = true
	cfg.open = func(string) (serialPort, error) { return port, nil }
	cfg.Port = "fake"
	b := New(cfg)
	if err := b.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Stop() })
	d, err := b.Connect(t.Context(), fakePeer, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return f, b, d
}

func TestFakeReadWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{})
		f.values[0x0010] = []byte("hello")
		got, err := d.CharReadHandle(t.Context(), 0x0010)
		if err != nil || string(got) != "hello" {
			t.Fatalf("read = %q, %v", got, err)
		}
		if err := d.CharWriteHandle(t.Context(), 0x0011, []byte{1, 2, 3}, true); err != nil {
			t.Fatalf("write: %v", err)
		}
		if !bytes.Equal(f.values[0x0011], []byte{1, 2, 3}) {
			t.Fatalf("written value %x", f.values[0x0011])
		}
		_, err = d.CharReadHandle(t.Context(), 0x0099)
		var ae *gogatt.ATTError
		if !errors.As(err, &ae) || ae.Code != att.ErrInvalidHandle || ae.Handle != 0x0099 {
			t.Fatalf("read of missing handle: %v", err)
		}
		if err := d.CharWriteHandle(t.Context(), 0x0011, make([]byte, 21), true); !errors.Is(err, gogatt.ErrInvalidParameter) {
			t.Fatalf("21-byte write: %v", err)
		}
		rssi, err := d.RSSI(t.Context())
		if err != nil || rssi != -60 {
			t.Fatalf("rssi %d %v", rssi, err)
		}
		if _, err := d.ExchangeMTU(t.Context(), 247); !errors.Is(err, gogatt.ErrUnsupported) {
			t.Fatalf("ExchangeMTU: %v", err)
		}
		if err := d.Disconnect(); err != nil {
			t.Fatal(err)
		}
		<-d.Disconnected()
		var de *gogatt.DisconnectError
		if !errors.As(d.Err(), &de) || !de.Local {
			t.Fatalf("Err after Disconnect = %v", d.Err())
		}
		if _, err := d.CharReadHandle(t.Context(), 0x0010); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("read after disconnect: %v", err)
		}
	})
}

// A notification on the handle being read is not the read's result (pygatt §6.14, §6.20),
// and garbage between frames is skipped.
func TestFakeNotificationDuringReadAndGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{})
		f.onCmd = func(f *fakeDongle, cmd wire.Frame) bool {
			if cmd.Class != 4 || cmd.ID != 4 {
				return false
			}
			f.rsp(cmd, 5, 0x00, 0x03) // garbage framed as a response, for another connection
			f.rsp(cmd, 0, 0, 0)
			f.raw([]byte{0xFF, 0x12, 0x80, 0x00, 0x77, 0x05, 0x00, 0x13})                                // garbage
			f.evt(4, 5, cat([]byte{0}, le16(0x10), []byte{byte(wire.AttValueNotify), 2, 0xAA, 0xBB})...) // notification
			f.evt(4, 5, cat([]byte{0}, le16(0x10), []byte{byte(wire.AttValueRead), 1, 0x42})...)
			return true
		}
		got, err := d.CharReadHandle(t.Context(), 0x10)
		if err != nil || !bytes.Equal(got, []byte{0x42}) {
			t.Fatalf("read = %x, %v", got, err)
		}
	})
}

// The start of a frame left dangling by garbage ("80 10 03" would make the next response's
// first byte the ID of a 16-byte connection_status and swallow what follows) is abandoned
// after the inter-byte timeout (bgapi-facts.md §1.5 step 4), so the next frames decode.
func TestFakeInterByteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{})
		f.values[0x10] = []byte{0x42}
		f.onCmd = func(f *fakeDongle, cmd wire.Frame) bool {
			if cmd.Class != 4 || cmd.ID != 4 {
				return false
			}
			f.raw([]byte{0x80, 0x10, 0x03})
			<-time.After(2 * interByteTimeout) // the line goes quiet (virtual time)
			return false                       // then the real response and value
		}
		start := time.Now()
		got, err := d.CharReadHandle(t.Context(), 0x10)
		if err != nil || !bytes.Equal(got, []byte{0x42}) {
			t.Fatalf("read = %x, %v", got, err)
		}
		if el := time.Since(start); el != 2*interByteTimeout {
			t.Fatalf("took %v", el)
		}
	})
}

func TestFakeLinkLossFailsPendingAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{})
		f.hold[[2]uint8{4, 4}] = true
		errc := make(chan error, 1)
		start := time.Now()
		go func() { _, err := d.CharReadHandle(context.Background(), 0x10); errc <- err }()
		synctest.Wait()
		f.evt(3, 4, cat([]byte{0}, le16(0x0208))...)
		err := <-errc
		var de *gogatt.DisconnectError
		if !errors.As(err, &de) || de.Code != 0x0208 || !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("took %v of virtual time", time.Since(start))
		}
		<-d.Disconnected()
	})
}

func TestFakeContextCancelMidProcedure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{})
		f.values[0x10] = []byte{7}
		f.hold[[2]uint8{4, 5}] = true
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := d.CharWriteHandle(ctx, 0x10, []byte{1}, true)
		if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != 2*time.Second {
			t.Fatalf("returned after %v", el)
		}
		// The dongle still runs the write: the next procedure waits for its end instead of
		// getting wrong_state.
		f.mu.Lock()
		delete(f.hold, [2]uint8{4, 5})
		f.mu.Unlock()
		done := make(chan error, 1)
		go func() { _, err := d.CharReadHandle(t.Context(), 0x10); done <- err }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("read finished before the abandoned write: %v", err)
		default:
		}
		f.evt(4, 1, cat([]byte{0}, le16(0), le16(0x10))...)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestFakeConnectTimeoutEndsProcedure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, port := newFake(t)
		f.connect = false
		b := New(Config{Port: "fake", NoReset: true, open: func(string) (serialPort, error) { return port, nil }})
		if err := b.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer b.Stop()
		start := time.Now()
		_, err := b.Connect(t.Context(), fakePeer, gogatt.ConnectOptions{Timeout: 3 * time.Second})
		if !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != 3*time.Second {
			t.Fatalf("took %v", el)
		}
		cmds := f.commands()
		if last := cmds[len(cmds)-1]; last != [2]uint8{6, 4} {
			t.Fatalf("last command %v, want gap_end_procedure", last)
		}
	})
}

func TestFakeSlotsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, b, _ := startFake(t, Config{Slots: 8}) // the dongle has 3: its answer decides
		for _, a := range []string{"C0:FF:EE:00:00:02", "C0:FF:EE:00:00:03"} {
			if _, err := b.Connect(t.Context(), a, gogatt.ConnectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := b.Connect(t.Context(), "C0:FF:EE:00:00:04", gogatt.ConnectOptions{})
		var be *Error
		if !errors.Is(err, ErrConnectionLimit) || !errors.As(err, &be) || be.Result != wire.ResultConnectionLimitExceeded {
			t.Fatalf("err = %v", err)
		}
		_ = f
	})
	// A configured slot count below the dongle's is enforced before the wire.
	synctest.Test(t, func(t *testing.T) {
		f, b, _ := startFake(t, Config{Slots: 1})
		n := len(f.commands())
		_, err := b.Connect(t.Context(), "C0:FF:EE:00:00:02", gogatt.ConnectOptions{})
		if !errors.Is(err, ErrConnectionLimit) || len(f.commands()) != n {
			t.Fatalf("err = %v, %d commands sent", err, len(f.commands())-n)
		}
	})
}

func TestFakeUnplugFailsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, b, d := startFake(t, Config{})
		f.hold[[2]uint8{4, 4}] = true
		errc := make(chan error, 1)
		go func() { _, err := d.CharReadHandle(t.Context(), 0x10); errc <- err }()
		synctest.Wait()
		f.dev.Close()
		err := <-errc
		if !errors.Is(err, gogatt.ErrNotConnected) || !errors.Is(err, ErrAdapterLost) {
			t.Fatalf("err = %v", err)
		}
		if _, err := b.Connect(t.Context(), fakePeer, gogatt.ConnectOptions{}); !errors.Is(err, ErrAdapterLost) {
			t.Fatalf("connect after unplug: %v", err)
		}
		if err := b.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := b.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFakeUnresponsiveDongle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{CommandTimeout: time.Second})
		f.silent[[2]uint8{3, 1}] = true
		start := time.Now()
		_, err := d.RSSI(context.Background())
		if !errors.Is(err, gogatt.ErrTimeout) || time.Since(start) != time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		f.values[0x10] = []byte{1}
		if _, err := d.CharReadHandle(t.Context(), 0x10); err != nil {
			t.Fatalf("read after a lost response: %v", err)
		}
	})
}

// Indications of type 5 are confirmed with attclient_indicate_confirm (pygatt §6.15).
func TestFakeIndicationConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, _ := startFake(t, Config{})
		confirmed := make(chan struct{})
		f.onCmd = func(f *fakeDongle, cmd wire.Frame) bool {
			if cmd.Class == 4 && cmd.ID == 7 {
				f.rsp(cmd, 0, 0)
				close(confirmed)
				return true
			}
			return false
		}
		f.evt(4, 5, cat([]byte{0}, le16(0x20), []byte{byte(wire.AttValueIndicateRspReq), 1, 9})...)
		<-confirmed
	})
}

// write_command refused with out_of_memory (TX queue full) is retried with backoff, not
// dropped (pygatt §6.22).
func TestFakeWriteCommandBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _, d := startFake(t, Config{})
		refusals := 3
		f.onCmd = func(f *fakeDongle, cmd wire.Frame) bool {
			if cmd.Class != 4 || cmd.ID != 6 {
				return false
			}
			if refusals > 0 {
				refusals--
				f.rsp(cmd, cat([]byte{0}, le16(0x0182))...)
				return true
			}
			f.rsp(cmd, 0, 0, 0)
			return true
		}
		if err := d.CharWriteHandle(t.Context(), 0x10, []byte{1}, false); err != nil {
			t.Fatal(err)
		}
		if refusals != 0 {
			t.Fatalf("%d refusals left", refusals)
		}
		// A queue that never drains ends at the deadline.
		refusals = 1 << 30
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := d.CharWriteHandle(ctx, 0x10, []byte{1}, false); !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
	})
}

// Stop fails every operation in flight and every later one; it is idempotent.
func TestFakeStopDuringOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, b, d := startFake(t, Config{})
		f.hold[[2]uint8{4, 4}] = true
		errc := make(chan error, 1)
		go func() { _, err := d.CharReadHandle(t.Context(), 0x10); errc <- err }()
		synctest.Wait()
		b.Stop()
		if err := <-errc; !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("read during Stop: %v", err)
		}
		if _, err := b.Scan(t.Context(), gogatt.ScanOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
			t.Fatalf("scan after Stop: %v", err)
		}
		if err := b.ClearBond(t.Context(), ""); !errors.Is(err, gogatt.ErrNotStarted) {
			t.Fatalf("clear bond after Stop: %v", err)
		}
		b.Stop()
	})
}
