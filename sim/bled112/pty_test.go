package bled112

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
	"go.bug.st/serial"
)

// serialPort adapts a go.bug.st/serial port (opened exactly as the BGAPI backend opens a
// dongle) to io.ReadWriteCloser.
func openSerial(t testing.TB, path string) serial.Port {
	t.Helper()
	p, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("serial.Open(%s): %v", path, err)
	}
	return p
}

func TestPTYByteExact(t *testing.T) {
	e, err := New(Config{Peripherals: sim.DemoPeripherals(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pt, err := e.ListenPTY(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	if fi, err := os.Lstat(pt.Path()); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s: %v %v", pt.Path(), fi, err)
	}
	port := openSerial(t, pt.Path())
	h := newHost(t, port)

	// Host → device: a flash_ps_save whose key and value contain CR, LF, 0x00, 0xFF, XON/XOFF,
	// ^C and ^D, then read it back: device → host carries the same bytes.
	special := []byte{0x0D, 0x0A, 0x00, 0xFF, 0x11, 0x13, 0x03, 0x04, 0x7F, 0x0A, 0x0D}
	save := wire.CmdFlashPsSave{Key: 0x0A0D, Value: special}.AppendFrame(nil)
	if _, err := port.Write(save); err != nil {
		t.Fatal(err)
	}
	h.expect(&wire.RspFlashPsSave{})
	h.send(&wire.CmdFlashPsLoad{Key: 0x0A0D})
	want := wire.RspFlashPsLoad{Value: special}.AppendFrame(nil)
	if got := h.next(); !bytes.Equal(got, want) {
		t.Fatalf("\n got % X\nwant % X", got, want)
	}
	// An AES round trip exercises all 256 byte values over the tty in both directions.
	h.send(&wire.CmdSystemAesSetkey{Key: []byte{0xFF, 0x00, 0x0D, 0x0A, 0xFF, 0x00, 0x0D, 0x0A, 0x11, 0x13, 0x03, 0x04, 0x1A, 0x1C, 0x7F, 0x80}})
	h.expect(&wire.RspSystemAesSetkey{})
	for blk := range 16 {
		data := make([]byte, 16)
		for i := range data {
			data[i] = byte(blk*16 + i)
		}
		h.send(&wire.CmdSystemAesEncrypt{Data: data})
		enc := h.nextMsg().(*wire.RspSystemAesEncrypt).Data
		h.send(&wire.CmdSystemAesDecrypt{Data: enc})
		h.expect(&wire.RspSystemAesDecrypt{Data: data})
	}
	// Scan responses and connections work through the pty too (the worked frame of
	// docs/bgapi-protocol.md §Worked frames).
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{})
	h.expectHex("80 10 03 00 00 05 01 00 00 EE FF C0 00 3C 00 64 00 00 00 FF")
}

func TestPTYReopenKeepsState(t *testing.T) {
	e, _ := New(Config{Peripherals: sim.DemoPeripherals(1)})
	defer e.Close()
	pt, err := e.ListenPTY("")
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	port := openSerial(t, pt.Path())
	h := newHost(t, port)
	h.connect(hrmAddr, 0)
	port.Close()
	<-h.done
	// The host reopens the port: the dongle kept its connection.
	port2 := openSerial(t, pt.Path())
	h2 := newHost(t, port2)
	h2.send(&wire.CmdConnectionGetStatus{Connection: 0})
	h2.expect(&wire.RspConnectionGetStatus{})
	if st, ok := h2.nextMsg().(*wire.EvtConnectionStatus); !ok || st.Address != hrmAddr {
		t.Fatalf("%#v", st)
	}
}

func TestPTYUnplugAndReenumerate(t *testing.T) {
	e, _ := New(Config{Peripherals: sim.DemoPeripherals(1), ReenumerateOnReset: true, SendBootEvent: true})
	defer e.Close()
	pt, err := e.ListenPTY("")
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	first := pt.TTY()
	port := openSerial(t, pt.Path())
	h := newHost(t, port)
	h.quiet()

	// system_reset: the port vanishes (the host's reads fail) and comes back at the same path.
	back := pt.Back()
	h.send(&wire.CmdSystemReset{})
	<-h.done
	port.Close()
	select {
	case <-back:
	case <-time.After(failAfter):
		t.Fatal("port never came back")
	}
	port2 := openSerial(t, pt.Path())
	if pt.TTY() == first {
		t.Logf("same pty name reused: %s", first)
	}
	h2 := newHost(t, port2)
	h2.expectHex("80 0C 00 00 01 00 03 00 02 00 7A 00 06 00 01 01") // system_boot (SendBootEvent)
	h2.quiet()

	// Unplug: the port disappears until Replug, and the dongle loses its connections.
	h2.connect(hrmAddr, 0)
	pt.Unplug()
	if n := e.Connections(); n != 0 {
		t.Fatalf("%d connections after unplug", n)
	}
	<-h2.done
	port2.Close()
	if _, err := os.Lstat(pt.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("path still there after unplug: %v", err)
	}
	back = pt.Back()
	if err := pt.Replug(); err != nil {
		t.Fatal(err)
	}
	<-back
	h3 := newHost(t, openSerial(t, pt.Path()))
	h3.quiet()
}

// TestPTYUnplugReplugRace: Replug right after Unplug, before the serve loop noticed: the new
// port must stay (no spurious second re-enumeration).
func TestPTYUnplugReplugRace(t *testing.T) {
	e, _ := New(Config{Peripherals: sim.DemoPeripherals(1)})
	defer e.Close()
	pt, err := e.ListenPTY("")
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	for range 20 {
		pt.Unplug()
		if err := pt.Replug(); err != nil {
			t.Fatal(err)
		}
		tty := pt.TTY()
		port := openSerial(t, pt.Path())
		h := newHost(t, port)
		h.quiet()
		if pt.TTY() != tty {
			t.Fatalf("pty replaced behind the client's back: %s → %s", tty, pt.TTY())
		}
		port.Close()
		<-h.done
	}
}
