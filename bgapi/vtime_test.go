package bgapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// Virtual-time tests: the emulator and the backend both run inside a testing/synctest bubble
// over the emulator's in-process pipe (a real pty cannot take part in virtual time), so
// timeouts are exact and faults strike at a chosen point of a procedure.

// tapPort is the host's end of the emulator's pipe as a serialPort; it records the commands
// the host writes (observation only: everything the host reads comes from the emulator).
type tapPort struct {
	net.Conn
	log *cmdLog
	p   *wire.Parser // guarded by log.mu
}

func (tapPort) ResetInputBuffer() error { return nil }

func (tp tapPort) Write(b []byte) (int, error) {
	n, err := tp.Conn.Write(b)
	tp.log.mu.Lock()
	defer tp.log.mu.Unlock()
	tp.p.Feed(b[:n])
	for {
		f, ok := tp.p.Next()
		if !ok {
			return n, err
		}
		tp.log.cmds = append(tp.log.cmds, [2]uint8{f.Class, f.ID})
	}
}

// cmdLog is every command (class, ID) the host sent, across reopened ports.
type cmdLog struct {
	mu   sync.Mutex
	cmds [][2]uint8
}

func (l *cmdLog) commands() [][2]uint8 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.cmds)
}

var (
	cmdGapEndProcedure      = ident(wire.CmdGapEndProcedure{})
	cmdAttclientWriteCmd    = ident(wire.CmdAttclientWriteCommand{})
	cmdAttclientIndicateCfm = ident(wire.CmdAttclientIndicateConfirm{})
)

// ident is a message's (class, ID) as cmdLog records it.
func ident(m wire.Message) [2]uint8 { return [2]uint8{m.Class(), m.ID()} }

// startPipeEmu starts the emulator (demo peripherals plus extra) and a backend on its pipe;
// call it inside a synctest bubble. The returned env's cmds records the host's commands.
func startPipeEmu(t *testing.T, ecfg bled112.Config, bcfg Config, extra ...*sim.Peripheral) (*emuEnv, *cmdLog) {
	t.Helper()
	env := newEmuEnv(t, ecfg, extra...)
	log := &cmdLog{}
	bcfg.Port = "emulator"
	bcfg.open = func(string) (serialPort, error) {
		return tapPort{Conn: env.emu.Pipe(), log: log, p: wire.NewParser(wire.DecoderConfig{Direction: wire.FromHost})}, nil
	}
	env.start(t, bcfg)
	return env, log
}

// goRead starts a read of handle h on d and returns its result channel once the read is
// blocked (on the dongle or the peripheral).
func goRead(d gogatt.Device, h uint16) <-chan readResult {
	res := make(chan readResult, 1)
	go func() {
		v, err := d.CharReadHandle(context.Background(), h)
		res <- readResult{v, err}
	}()
	synctest.Wait()
	return res
}

// startStuckRead starts the emulator and a backend, connects to the torture device with opts
// and starts a read the peripheral never answers.
func startStuckRead(t *testing.T, opts gogatt.ConnectOptions) (*emuEnv, gogatt.Device, <-chan readResult) {
	t.Helper()
	env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, opts)
	p := env.periphs[tortureAddr]
	p.SetUnresponsive(true)
	return env, d, goRead(d, p.ValueHandle(sim.TortureCounter))
}

type readResult struct {
	v   []byte
	err error
}

// An unresponsive peer: without a caller deadline the read ends with the ATT transaction
// timeout (Core v5.3 Vol 3 Part F §3.3.3), 30 s of virtual time, as a typed timeout.
func TestVirtualATTTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{})
		ctx := context.Background()
		d, p := env.connectDiscovered(t, ctx, hrmAddr)
		p.SetUnresponsive(true)
		start := time.Now()
		_, err := d.CharRead(ctx, gogatt.UUID16(0x2A38))
		if !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el < 30*time.Second || el > 31*time.Second {
			t.Fatalf("timed out after %v", el)
		}
		p.SetUnresponsive(false)
	})
}

// Reset on start over the pipe: the emulator restarts without re-enumerating and answers
// system_hello on the same port; no time passes waiting.
func TestVirtualStartWithReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		env, log := startPipeEmu(t, bled112.Config{}, Config{})
		if el := time.Since(start); el > 200*time.Millisecond {
			t.Fatalf("Start took %v of virtual time", el)
		}
		if cmds := log.commands(); len(cmds) == 0 || cmds[0] != [2]uint8{0, 0} {
			t.Fatalf("first command %v, want system_reset", cmds)
		}
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{Timeout: time.Second})
		if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
			t.Fatal(err)
		}
	})
}

// Reads and writes by handle, typed ATT errors, validation before the wire, RSSI, and the
// state after a local disconnect.
func TestVirtualReadWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
		p := env.periphs[tortureAddr]
		ctx := t.Context()
		h := p.ValueHandle(sim.TortureMaxLen)
		if err := d.CharWriteHandle(ctx, h, []byte{1, 2, 3}, true); err != nil {
			t.Fatalf("write: %v", err)
		}
		if v := p.Value(h); !bytes.Equal(v, []byte{1, 2, 3}) {
			t.Fatalf("the peripheral holds %x", v)
		}
		if got, err := d.CharReadHandle(ctx, h); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
			t.Fatalf("read = %x, %v", got, err)
		}
		missing := p.HandleCount() + 1
		_, err := d.CharReadHandle(ctx, missing)
		var ae *gogatt.ATTError
		if !errors.As(err, &ae) || ae.Code != att.ErrInvalidHandle || ae.Handle != missing {
			t.Fatalf("read of missing handle %#x: %v", missing, err)
		}
		if err := d.CharWriteHandle(ctx, h, make([]byte, 21), true); !errors.Is(err, gogatt.ErrInvalidParameter) {
			t.Fatalf("21-byte write: %v", err)
		}
		if v := p.Value(h); !bytes.Equal(v, []byte{1, 2, 3}) {
			t.Fatalf("a refused write reached the peripheral: %x", v)
		}
		if rssi, err := d.RSSI(ctx); err != nil || rssi >= 0 || rssi < -127 {
			t.Fatalf("rssi %d %v", rssi, err)
		}
		if _, err := d.ExchangeMTU(ctx, 247); !errors.Is(err, gogatt.ErrUnsupported) {
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
		if _, err := d.CharReadHandle(ctx, h); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("read after disconnect: %v", err)
		}
	})
}

// A notification on the handle being read is not the read's result
// (docs/bgapi-protocol.md#pygatt-read), garbage between frames is skipped, and a response that
// frames like the awaited one but names another connection is dropped.
func TestVirtualNotificationDuringReadAndGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		d := env.connect(t, hrmAddr, gogatt.ConnectOptions{})
		p := env.periphs[hrmAddr]
		vh := p.ValueHandle(gogatt.UUID16(0x2A19)) // battery level: read, notify
		want := p.Value(vh)
		notes := make(chan []byte, 1)
		if err := d.SubscribeHandle(t.Context(), vh, func(_ uint16, v []byte) { notes <- v }, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		// The dongle accepted the read; the peripheral answers a second later. Meanwhile:
		// garbage, a notification on the same handle, more garbage.
		p.SetResponseDelay(time.Second)
		res := goRead(d, vh)
		env.emu.InjectGarbage([]byte{0xFF, 0x12, 0x80, 0x00, 0x77, 0x05, 0x00, 0x13})
		p.Notify(vh, []byte{0xAA})
		env.emu.InjectGarbage([]byte{0x00, 0x00})
		r := <-res
		if r.err != nil || !bytes.Equal(r.v, want) {
			t.Fatalf("read = %x, %v; want %x", r.v, r.err, want)
		}
		if v := <-notes; !bytes.Equal(v, []byte{0xAA}) {
			t.Fatalf("notification %x", v)
		}
		p.SetResponseDelay(0)
		// The dongle is slow to answer get_rssi; a get_rssi response for connection 5 (and
		// an impossible positive RSSI) arrives first.
		env.emu.SetResponseDelay(time.Second)
		rssi := make(chan int, 1)
		go func() { r, _ := d.RSSI(t.Context()); rssi <- r }()
		synctest.Wait()
		env.emu.InjectGarbage(wire.AppendFrame(nil, wire.Frame{Class: 3, ID: 1, Payload: []byte{5, 0x03}}))
		if r := <-rssi; r >= 0 {
			t.Fatalf("rssi %d: the other connection's response was taken", r)
		}
		env.emu.SetResponseDelay(0)
	})
}

// The start of a frame left dangling by garbage ("80 10 03" would make the next response's
// first byte the ID of a 16-byte connection_status and swallow what follows) is abandoned
// after the inter-byte timeout (docs/bgapi-protocol.md §Resynchronisation, step 4), so the
// next frames decode.
func TestVirtualInterByteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { testInterByteTimeout(t, false) })
}

// TestVirtualInterByteTimeoutPumped: the same over a port without read deadlines (as
// go.bug.st/serial's), read by the client's pump goroutine.
func TestVirtualInterByteTimeoutPumped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { testInterByteTimeout(t, true) })
}

// noDeadlinePort is a serialPort without SetReadDeadline.
type noDeadlinePort struct{ p serialPort }

func (n noDeadlinePort) Read(b []byte) (int, error)  { return n.p.Read(b) }
func (n noDeadlinePort) Write(b []byte) (int, error) { return n.p.Write(b) }
func (n noDeadlinePort) Close() error                { return n.p.Close() }
func (n noDeadlinePort) ResetInputBuffer() error     { return n.p.ResetInputBuffer() }

func testInterByteTimeout(t *testing.T, pumped bool) {
	env := newEmuEnv(t, bled112.Config{})
	bcfg := Config{NoReset: true, Port: "emulator"}
	bcfg.open = func(string) (serialPort, error) {
		var p serialPort = tapPort{Conn: env.emu.Pipe(), log: &cmdLog{}, p: wire.NewParser(wire.DecoderConfig{Direction: wire.FromHost})}
		if pumped {
			p = noDeadlinePort{p}
		}
		return p, nil
	}
	env.start(t, bcfg)
	d := env.connect(t, hrmAddr, gogatt.ConnectOptions{})
	vh := env.periphs[hrmAddr].ValueHandle(gogatt.UUID16(0x2A38))
	env.emu.InjectGarbage([]byte{0x80, 0x10, 0x03})
	env.emu.SetResponseDelay(2 * interByteTimeout) // the line goes quiet, then the response
	start := time.Now()
	got, err := d.CharReadHandle(t.Context(), vh)
	if err != nil || !bytes.Equal(got, []byte{0x01}) {
		t.Fatalf("read = %x, %v", got, err)
	}
	if el := time.Since(start); el != 2*interByteTimeout {
		t.Fatalf("took %v", el)
	}
}

// A link lost mid-procedure (the peripheral goes out of range) fails the procedure as soon as
// the dongle reports connection_disconnected 0x0208 after the supervision timeout, not at the
// 30 s ATT timeout.
func TestVirtualLinkLossFailsPendingAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const supervision = 500 * time.Millisecond
		env, d, res := startStuckRead(t, gogatt.ConnectOptions{SupervisionTimeout: supervision})
		start := time.Now()
		env.periphs[tortureAddr].SetInRange(false)
		err := (<-res).err
		var de *gogatt.DisconnectError
		if !errors.As(err, &de) || de.Code != 0x0208 || !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != supervision {
			t.Fatalf("failed %v after the link loss, want the supervision timeout %v", el, supervision)
		}
		<-d.Disconnected()
	})
}

// A deadline mid-procedure returns ErrTimeout at the deadline; the dongle still runs the
// abandoned write, so the next procedure waits for its end instead of getting wrong_state.
func TestVirtualContextCancelMidProcedure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
		p := env.periphs[tortureAddr]
		h := p.ValueHandle(sim.TortureMaxLen)
		const slow = 5 * time.Second
		p.SetResponseDelay(slow)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := d.CharWriteHandle(ctx, h, []byte{7}, true)
		if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != 2*time.Second {
			t.Fatalf("returned after %v", el)
		}
		p.SetResponseDelay(0)
		res := goRead(d, h)
		select {
		case r := <-res:
			t.Fatalf("read finished before the abandoned write: %x %v", r.v, r.err)
		default:
		}
		r := <-res
		if r.err != nil || !bytes.Equal(r.v, []byte{7}) {
			t.Fatalf("read after the abandoned write = %x, %v", r.v, r.err)
		}
		if el := time.Since(start); el != slow {
			t.Fatalf("read ended %v after the write began, want %v", el, slow)
		}
	})
}

// Nobody at the address: ErrTimeout at the deadline exactly, and gap_end_procedure is the
// last command, so the dongle is free to connect elsewhere right after.
func TestVirtualConnectTimeoutEndsProcedure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, log := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		start := time.Now()
		_, err := env.b.Connect(t.Context(), "C0:FF:EE:99:99:99", gogatt.ConnectOptions{Timeout: 3 * time.Second})
		if !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != 3*time.Second {
			t.Fatalf("took %v", el)
		}
		if cmds := log.commands(); cmds[len(cmds)-1] != cmdGapEndProcedure {
			t.Fatalf("last command %v, want gap_end_procedure", cmds[len(cmds)-1])
		}
		env.connect(t, hrmAddr, gogatt.ConnectOptions{Timeout: time.Second})
	})
}

// The dongle's slot count decides (3 on stock firmware, even if Config says 8): the 4th
// connection is refused by the dongle with a typed error, and a freed slot is usable again.
// A configured slot count below the dongle's is enforced before the wire.
func TestVirtualSlotsFull(t *testing.T) {
	fourth := "C0:FF:EE:00:01:04"
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true, Slots: 8},
			sim.NewTortureDevice(bt.MustParseAddress(fourth), 4))
		var devs []gogatt.Device
		for _, a := range []string{hrmAddr, thermoAddr, tortureAddr} {
			devs = append(devs, env.connect(t, a, gogatt.ConnectOptions{}))
		}
		_, err := env.b.Connect(t.Context(), fourth, gogatt.ConnectOptions{})
		var be *Error
		if !errors.Is(err, ErrConnectionLimit) || !errors.Is(err, gogatt.ErrBusy) ||
			!errors.As(err, &be) || be.Result != wire.ResultConnectionLimitExceeded {
			t.Fatalf("4th connection: %v", err)
		}
		devs[0].Disconnect()
		d := env.connect(t, fourth, gogatt.ConnectOptions{})
		if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
			t.Fatal(err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		env, log := startPipeEmu(t, bled112.Config{}, Config{NoReset: true, Slots: 1})
		env.connect(t, hrmAddr, gogatt.ConnectOptions{})
		n := len(log.commands())
		_, err := env.b.Connect(t.Context(), thermoAddr, gogatt.ConnectOptions{})
		if sent := len(log.commands()) - n; !errors.Is(err, ErrConnectionLimit) || sent != 0 {
			t.Fatalf("err = %v, %d commands sent", err, sent)
		}
	})
}

// The dongle's port ends (the emulator is gone) during a read: the read fails at once with
// ErrAdapterLost, so does every later call; Stop is idempotent.
func TestVirtualUnplugFailsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _, res := startStuckRead(t, gogatt.ConnectOptions{})
		env.emu.Close()
		err := (<-res).err
		if !errors.Is(err, gogatt.ErrNotConnected) || !errors.Is(err, ErrAdapterLost) {
			t.Fatalf("err = %v", err)
		}
		if _, err := env.b.Connect(t.Context(), hrmAddr, gogatt.ConnectOptions{}); !errors.Is(err, ErrAdapterLost) {
			t.Fatalf("connect after unplug: %v", err)
		}
		if err := env.b.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := env.b.Stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// A response lost on the way (the dongle's output drops exactly the get_rssi response) ends
// the command with ErrTimeout after CommandTimeout; the next command works.
func TestVirtualLostResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true, CommandTimeout: time.Second})
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
		rsp := (&wire.RspConnectionGetRssi{}).AppendFrame(nil)
		env.emu.DropOutput(len(rsp))
		start := time.Now()
		_, err := d.RSSI(context.Background())
		if !errors.Is(err, gogatt.ErrTimeout) || time.Since(start) != time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
			t.Fatalf("read after a lost response: %v", err)
		}
	})
}

// Indications of type 5 are confirmed with attclient_indicate_confirm
// (docs/bgapi-protocol.md#pygatt-indicate-confirm): the peripheral sends its next indication
// only after the previous one is confirmed.
func TestVirtualIndicationConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, log := startPipeEmu(t, bled112.Config{ManualIndicationConfirm: true}, Config{NoReset: true})
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
		p := env.periphs[tortureAddr]
		vh := p.ValueHandle(sim.TortureIndicate)
		got := make(chan []byte, 2)
		if err := d.SubscribeHandle(t.Context(), vh, func(_ uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{Indication: true}); err != nil {
			t.Fatal(err)
		}
		p.Notify(vh, []byte{1})
		p.Notify(vh, []byte{2})
		for _, want := range []byte{1, 2} {
			if v := <-got; !bytes.Equal(v, []byte{want}) {
				t.Fatalf("indication %x, want %x", v, want)
			}
		}
		synctest.Wait()
		if n := count(log.commands(), cmdAttclientIndicateCfm); n != 2 {
			t.Fatalf("%d indicate_confirm commands, want 2", n)
		}
	})
}

// write_command refused with out_of_memory (TX queue full on a slow link) is retried with
// backoff, not dropped (docs/bgapi-protocol.md#pygatt-write); a queue that does not drain
// before the deadline ends with ErrTimeout at the deadline.
func TestVirtualWriteCommandBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		link := &bled112.LinkModel{ConnInterval: time.Second, PacketsPerEvent: 1}
		env, log := startPipeEmu(t, bled112.Config{Link: link}, Config{NoReset: true})
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
		p := env.periphs[tortureAddr]
		h := p.ValueHandle(sim.TortureWriteCmdOnly)
		const n = 20 // more than the 16-PDU TX queue
		for i := range n {
			if err := d.CharWriteHandle(t.Context(), h, binary.LittleEndian.AppendUint32(nil, uint32(i)), false); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		if sent := count(log.commands(), cmdAttclientWriteCmd); sent <= n {
			t.Fatalf("%d write_command for %d writes: the queue never refused one", sent, n)
		}
		// A write request queues behind the commands: once it is answered, all arrived.
		if err := d.CharWriteHandle(t.Context(), p.ValueHandle(sim.TortureMaxLen), []byte{1}, true); err != nil {
			t.Fatal(err)
		}
		if v := p.Value(h); !bytes.Equal(v, binary.LittleEndian.AppendUint32(nil, n-1)) {
			t.Fatalf("last value %x, want %d", v, n-1)
		}
		// Fill the queue again; the write that finds it full ends at its deadline, 200 ms,
		// well before the next connection event frees a slot.
		for i := range 40 {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			start := time.Now()
			err := d.CharWriteHandle(ctx, h, []byte{byte(i)}, false)
			el := time.Since(start)
			cancel()
			if err == nil {
				continue
			}
			if !errors.Is(err, gogatt.ErrTimeout) || el != 200*time.Millisecond || i < 15 {
				t.Fatalf("write %d: err = %v after %v", i, err, el)
			}
			t.Logf("write %d found the queue full", i)
			return
		}
		t.Fatal("the TX queue never filled")
	})
}

func count[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// Stop fails every operation in flight and every later one; it is idempotent.
func TestVirtualStopDuringOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _, res := startStuckRead(t, gogatt.ConnectOptions{})
		env.b.Stop()
		if err := (<-res).err; !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("read during Stop: %v", err)
		}
		if _, err := env.b.Scan(t.Context(), gogatt.ScanOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
			t.Fatalf("scan after Stop: %v", err)
		}
		if err := env.b.ClearBond(t.Context(), ""); !errors.Is(err, gogatt.ErrNotStarted) {
			t.Fatalf("clear bond after Stop: %v", err)
		}
		env.b.Stop()
	})
}
