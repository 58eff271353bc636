package gatttool_test

// A scripted stand-in for gatttool, run from the test binary itself (GOGATT_FAKE_GATTTOOL=1),
// printing the byte sequences of BlueZ 5.66's gatttool (TERM=dumb forms; the § sections named below
// are those of docs/bluez-tools.md). It lets the process driver be tested in situations the real
// tools reach only slowly or not at all (the 30 s ATT timeout and the hang after it, link loss with
// requests pending, unsolicited errors), independently of the simulated BlueZ environment.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool"
)

const fakeEnv = "GOGATT_FAKE_GATTTOOL"

// runFake is the stand-in's main; it never returns.
func runFake() {
	out := bufio.NewWriter(os.Stdout)
	addr := ""
	connected := false
	prompt := func() string {
		a := fmt.Sprintf("[%17s]", addr)
		if connected {
			return "\x1b[0;94m" + a + "\x1b[0m[LE]> "
		}
		return a + "[LE]> "
	}
	async := func(line string) { // rl_printf with TERM=dumb (docs/bluez-tools.md §Terminal output)
		fmt.Fprintf(out, "\r%s\r%s\r\n%s", strings.Repeat(" ", 36), line, prompt())
	}
	glib := func() {
		fmt.Fprintf(out, "\r\n(gatttool:%d): GLib-\x1b[1;33mWARNING\x1b[0m **: \x1b[34m12:00:00.000\x1b[0m: Invalid file descriptor.\r\n", os.Getpid())
	}
	// answer prints the prompt, then lines as asynchronous output (a callback answering a
	// command, docs/bluez-tools.md §Terminal output), and flushes.
	answer := func(lines ...string) {
		fmt.Fprint(out, prompt())
		for _, l := range lines {
			async(l)
		}
		out.Flush()
	}
	fmt.Fprint(out, prompt())
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	hung := false
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		f := strings.Fields(line)
		fmt.Fprintf(out, "%s\r\n", line) // readline's echo
		if len(f) == 0 {
			fmt.Fprint(out, prompt())
			out.Flush()
			continue
		}
		if hung && f[0] != "exit" && f[0] != "disconnect" {
			fmt.Fprint(out, prompt()) // every command prints nothing (§ATT timeout hang)
			out.Flush()
			continue
		}
		switch f[0] {
		case "exit":
			if connected {
				glib()
			}
			out.Flush()
			os.Exit(0)
		case "connect":
			addr = f[1]
			fmt.Fprintf(out, "Attempting to connect to %s\r\n%s", addr, prompt())
			if addr == "AA:AA:AA:AA:AA:01" {
				async("\x1b[0;91mError: \x1b[0mconnect to " + addr + ": Connection refused (111)")
			} else {
				connected = true
				async("Connection successful")
			}
			out.Flush()
			continue
		case "sec-level":
			if len(f) == 1 {
				fmt.Fprint(out, "sec-level: low\r\n")
			}
		case "char-read-hnd":
			switch f[1] {
			case "0x0003":
				answer("Characteristic value/descriptor: 01 02 03 ")
				continue
			case "0x0004": // the peer answers 0x05 after gatttool's retries
				answer("\x1b[0;91mError: \x1b[0mCharacteristic value/descriptor read failed: Attribute requires authentication before read/write")
				continue
			case "0x00ee": // no answer at all: gatttool's hang (§ATT timeout hang)
				hung = true
			case "0x00bb": // gatttool thinks it is not connected (§Error lines)
				fmt.Fprint(out, "\x1b[0;91mCommand Failed: \x1b[0mDisconnected\r\n")
			case "0x00cc": // gatttool's own 30 s ATT timeout: 0x0e, still "connected", then hung
				hung = true
				answer("\x1b[0;91mError: \x1b[0mCharacteristic value/descriptor read failed: Request attribute has encountered an unlikely error")
				continue
			case "0x00dd": // link lost with this request pending (§Link loss)
				connected = false
				answer("\x1b[0;91mError: \x1b[0mCharacteristic value/descriptor read failed: Request attribute has encountered an unlikely error")
				glib()
				out.Flush()
				continue
			}
		case "char-write-req":
			if f[1] == "0x000d" { // CCCD of 0x000b: notifications follow the write response
				answer("Characteristic value was written successfully",
					"Notification handle = 0x000b value: 00 00 00 00 ",
					"Notification handle = 0x000b value: 01 00 00 00 ",
					"Notification handle = 0x000b value: 02 00 00 00 ")
			} else {
				answer("\x1b[0;91mError: \x1b[0mCharacteristic Write Request failed: Attribute can't be written")
			}
			continue
		case "primary":
			answer("attr handle: 0x0001, end grp handle: 0x0008 uuid: 00001800-0000-1000-8000-00805f9b34fb",
				"attr handle: 0x0009, end grp handle: 0x000e uuid: 0000180d-0000-1000-8000-00805f9b34fb")
			continue
		case "characteristics":
			answer("handle: 0x0002, char properties: 0x02, char value handle: 0x0003, uuid: 00002a00-0000-1000-8000-00805f9b34fb",
				"handle: 0x000a, char properties: 0x10, char value handle: 0x000b, uuid: 00002a37-0000-1000-8000-00805f9b34fb")
			continue
		case "char-desc":
			fmt.Fprint(out, prompt())
			for _, l := range []string{"0x0001, uuid: 00002800", "0x0002, uuid: 00002803", "0x0003, uuid: 00002a00",
				"0x0009, uuid: 00002800", "0x000a, uuid: 00002803", "0x000b, uuid: 00002a37", "0x000c, uuid: 00002901", "0x000d, uuid: 00002902"} {
				async("handle: " + l + "-0000-1000-8000-00805f9b34fb")
			}
			out.Flush()
			continue
		case "mtu":
			answer("MTU was exchanged successfully: 100")
			continue
		default:
			fmt.Fprintf(out, "\x1b[0;91mError: \x1b[0m%s: command not found\r\n", f[0])
		}
		fmt.Fprint(out, prompt())
		out.Flush()
	}
	os.Exit(0)
}

func fakeBackend(t *testing.T, timeout time.Duration) *gatttool.Backend {
	return fakeBackendCfg(t, gatttool.Config{RequestTimeout: timeout})
}

func fakeBackendCfg(t *testing.T, cfg gatttool.Config) *gatttool.Backend {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.GatttoolPath, cfg.SkipAdapterCheck, cfg.Logger = exe, true, logger(t)
	cfg.Env = append(cfg.Env, fakeEnv+"=1")
	b := gatttool.New(cfg)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	return b
}

func TestFakeDriver(t *testing.T) {
	b := fakeBackend(t, 2*time.Second)
	ctx := ctxT(t, 20*time.Second)
	d, err := b.Connect(ctx, "AA:AA:AA:AA:AA:02", gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Disconnect()
	if v, err := d.CharReadHandle(ctx, 3); err != nil || string(v) != "\x01\x02\x03" {
		t.Fatalf("read = % x, %v", v, err)
	}
	_, err = d.CharReadHandle(ctx, 4)
	var ae *gogatt.ATTError
	if !errors.As(err, &ae) || ae.Code != att.ErrInsufficientAuthentication || ae.Handle != 4 {
		t.Fatalf("read 4: %v", err)
	}
	svcs, err := d.Services(ctx)
	if err != nil || len(svcs) != 2 || len(svcs[1].Characteristics) != 1 {
		t.Fatalf("services %+v, %v", svcs, err)
	}
	hr := svcs[1].Characteristics[0]
	if c, ok := hr.CCCD(); !ok || c != 0x0d || hr.EndHandle != 0x0e || len(hr.Descriptors) != 2 {
		t.Fatalf("heart rate char %+v", hr)
	}
	got := make(chan byte, 3)
	if err := d.SubscribeHandle(ctx, 0x0b, func(_ uint16, v []byte) { got <- v[0] }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if v := <-got; v != byte(i) {
			t.Fatalf("notification %d = %d", i, v)
		}
	}
	if m, err := d.ExchangeMTU(ctx, 100); err != nil || m != 100 {
		t.Fatalf("mtu %d %v", m, err)
	}
	if err := d.CharWriteHandle(ctx, 3, []byte{1}, true); !errors.As(err, &ae) || ae.Code != att.ErrWriteNotPermitted {
		t.Fatalf("write: %v", err)
	}
	if err := d.Bond(ctx, true); err != nil {
		t.Fatal(err)
	}
	// Link loss with a request pending: the pending request reports the disconnect.
	_, err = d.CharReadHandle(ctx, 0xdd)
	var de *gogatt.DisconnectError
	if !errors.As(err, &de) || !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("read during loss: %v", err)
	}
	// gatttool's 0x0e is not the peer's answer: no ATT error reaches the caller.
	if errors.As(err, &ae) {
		t.Fatalf("read during loss reports an ATT error: %v", err)
	}
	<-d.Disconnected()
}

func TestFakeConnectRefused(t *testing.T) {
	b := fakeBackend(t, 2*time.Second)
	_, err := b.Connect(ctxT(t, 10*time.Second), "AA:AA:AA:AA:AA:01", gogatt.ConnectOptions{})
	if !errors.Is(err, gogatt.ErrNotConnected) || errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("refused: %v", err)
	}
}

func TestFakeHang(t *testing.T) {
	b := fakeBackend(t, time.Second)
	ctx := ctxT(t, 20*time.Second)
	d, err := b.Connect(ctx, "AA:AA:AA:AA:AA:02", gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Disconnect()
	_, err = d.CharReadHandle(ctx, 0xee)
	if !errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("hang: %v", err)
	}
	<-d.Disconnected()
	if !errors.Is(d.Err(), gogatt.ErrTimeout) {
		t.Fatalf("Err = %v", d.Err())
	}
}

// gatttool's own ATT timeout: the 0x0e error 30 s after the request, then silence
// (docs/bluez-tools.md §ATT timeout hang).
// It is reported as a timeout and the hung process is killed.
func TestFakeATTTimeoutLine(t *testing.T) {
	b := fakeBackendCfg(t, gatttool.WithATTTimeout(gatttool.Config{RequestTimeout: 10 * time.Second}, time.Nanosecond))
	ctx := ctxT(t, 20*time.Second)
	d, err := b.Connect(ctx, "AA:AA:AA:AA:AA:02", gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Disconnect()
	_, err = d.CharReadHandle(ctx, 0xcc)
	var ae *gogatt.ATTError
	if !errors.Is(err, gogatt.ErrTimeout) || !errors.As(err, &ae) || ae.Code != att.ErrUnlikelyError {
		t.Fatalf("ATT timeout line: %v", err)
	}
	<-d.Disconnected()
	if !errors.Is(d.Err(), gogatt.ErrTimeout) {
		t.Fatalf("Err = %v", d.Err())
	}
}

// "Command Failed: Disconnected" on a connection that was up: the command fails with
// ErrNotConnected and the device reports the loss.
func TestFakeCommandFailedDisconnected(t *testing.T) {
	b := fakeBackend(t, 2*time.Second)
	ctx := ctxT(t, 20*time.Second)
	d, err := b.Connect(ctx, "AA:AA:AA:AA:AA:02", gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Disconnect()
	if _, err := d.CharReadHandle(ctx, 0xbb); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("Command Failed: Disconnected: %v", err)
	}
	<-d.Disconnected()
	if !errors.Is(d.Err(), gogatt.ErrNotConnected) {
		t.Fatalf("Err = %v", d.Err())
	}
}
