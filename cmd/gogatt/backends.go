package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// Emulated world of --sim and `gogatt sim`: the three demo peripherals (seed 1, so values are
// the same on every run), with two settings that make the demo lively:
const (
	// simHeartRate is the heart-rate sensor's notification rate (a real one sends 1 per second).
	simHeartRate = 5
	// simStreamRate is the rate of the sequence-numbered generator on the torture device's
	// stream characteristic (sim.TortureStream), for `subscribe --seq`.
	simStreamRate = 500
	simSeed       = 1
)

// backendProbes are the questions chooseBackend asks about the machine.
type backendProbes struct {
	goos string
	// bled112 lists the BLED112s plugged in.
	bled112 func() ([]string, error)
	// bluetoothd is nil when bluetoothd owns org.bluez on the system bus.
	bluetoothd func(ctx context.Context) error
}

// bluetoothdProbeTimeout bounds the question to the system bus: a bus that does not answer
// within it is taken as no bluetoothd.
const bluetoothdProbeTimeout = 2 * time.Second

// realProbes ask the machine: the serial ports' USB IDs (bgapi.FindBLED112) and the system bus
// (bluez.Reachable, which honours DBUS_SYSTEM_BUS_ADDRESS).
func realProbes() backendProbes {
	return backendProbes{goos: runtime.GOOS, bled112: bgapi.FindBLED112, bluetoothd: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, bluetoothdProbeTimeout)
		defer cancel()
		return bluez.Reachable(ctx, "")
	}}
}

// chooseBackend is the backend when --backend is not given: a BLED112 plugged in → bgapi;
// else, on Linux, bluetoothd on the system bus → bluez; else bgapi (whose start then says that
// no BLED112 was found). why says what decided it.
func chooseBackend(ctx context.Context, p backendProbes) (kind, why string) {
	ports, err := p.bled112()
	if len(ports) > 0 {
		return "bgapi", "a BLED112 is plugged in (" + ports[0] + ")"
	}
	noDongle := "no BLED112 plugged in"
	if err != nil {
		noDongle = "no BLED112 found (" + err.Error() + ")"
	}
	if p.goos != "linux" {
		return "bgapi", noDongle + "; bluez works on Linux only"
	}
	if err := p.bluetoothd(ctx); err != nil {
		return "bgapi", noDongle + "; bluetoothd not reachable: " + err.Error()
	}
	return "bluez", noDongle + "; bluetoothd is on the system bus"
}

// defaultBackend is cli.Env.Choose: chooseBackend on the real machine.
func defaultBackend(ctx context.Context) (kind, why string) {
	return chooseBackend(ctx, realProbes())
}

// notifyMode is the bluez.NotifyMode of a value of --notify ("auto", and "", are the default).
func notifyMode(s string) bluez.NotifyMode {
	switch s {
	case "start":
		return bluez.NotifyStartNotify
	case "acquire":
		return bluez.NotifyAcquire
	}
	return bluez.NotifyAuto
}

// openBackend builds the adapter the global flags ask for.
func openBackend(ctx context.Context, c cli.BackendConfig) (gogatt.Backend, error) {
	switch {
	case c.Sim:
		return openSim(c)
	case c.Kind == "bgapi":
		return bgapi.New(bgapi.Config{Port: c.Port, Logger: c.Logger, Passkey: c.Passkey, PasskeyDisplay: c.PasskeyDisplay}), nil
	case c.Kind == "gatttool":
		return gatttool.New(gatttool.Config{HCIDevice: c.HCI, Logger: c.Logger}), nil
	case c.Kind == "bluez":
		// The system bus: DBUS_SYSTEM_BUS_ADDRESS names another one, as for every D-Bus client.
		return bluez.New(bluez.Config{Adapter: c.HCI, Logger: c.Logger, Notify: notifyMode(c.Notify), Passkey: c.Passkey, PasskeyDisplay: c.PasskeyDisplay, Confirm: c.Confirm}), nil
	}
	return nil, fmt.Errorf("unknown backend %q", c.Kind)
}

// simWorld is a running emulator on a pseudo-terminal, or (where there are none: Windows)
// without one, for the BGAPI backend to reach over in-process pipes.
type simWorld struct {
	emu         *bled112.Emulator
	pty         *bled112.PTY
	peripherals []*sim.Peripheral
	stopGen     func()
}

// startSim starts the emulator on a pseudo-terminal; with orPipe, where pseudo-terminals are
// unsupported it starts the emulator alone (pty nil).
func startSim(log *slog.Logger, orPipe bool, link cli.SimLink) (*simWorld, error) {
	ps := sim.DemoPeripherals(simSeed)
	for _, p := range ps {
		switch p.Address().String() {
		case sim.HeartRateAddress:
			if err := p.SetNotifyRate(p.ValueHandle(bt.UUID16(0x2a37)), simHeartRate); err != nil {
				return nil, err
			}
		}
	}
	emu, err := bled112.New(bled112.Config{
		Peripherals: ps,
		Link:        linkModel(link),
		Logf:        func(format string, args ...any) { log.Debug("bled112: " + fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return nil, err
	}
	pty, err := emu.ListenPTY("")
	if err != nil && !(orPipe && errors.Is(err, errors.ErrUnsupported)) {
		emu.Close()
		return nil, err
	}
	w := &simWorld{emu: emu, pty: pty, peripherals: ps, stopGen: func() {}}
	for _, p := range ps {
		if p.Address().String() == sim.TortureAddress {
			w.stopGen = p.StartGenerator(p.ValueHandle(sim.TortureStream), 0, simStreamRate)
		}
	}
	if pty != nil {
		log.Debug("BLED112 emulator listening", "path", pty.Path(), "tty", pty.TTY())
	} else {
		log.Debug("BLED112 emulator on an in-process pipe (no pseudo-terminals here)", "err", err)
	}
	return w, nil
}

// linkModel is the emulator's link model of `gogatt sim --interval --per-event` (nil: none).
func linkModel(l cli.SimLink) *bled112.LinkModel {
	if l.Interval <= 0 {
		return nil
	}
	return &bled112.LinkModel{ConnInterval: l.Interval, PacketsPerEvent: l.PerEvent}
}

func (w *simWorld) close() error {
	w.stopGen()
	var err error
	if w.pty != nil {
		err = w.pty.Close()
	}
	return errors.Join(err, w.emu.Close())
}

// simBackend is the BGAPI backend on the emulator's pty (or pipe); Stop also ends the emulator.
type simBackend struct {
	gogatt.Backend
	w *simWorld
}

func (s *simBackend) Stop() error { return errors.Join(s.Backend.Stop(), s.w.close()) }

func openSim(c cli.BackendConfig) (gogatt.Backend, error) {
	w, err := startSim(c.Logger, true, cli.SimLink{})
	if err != nil {
		return nil, fmt.Errorf("starting the BLED112 emulator: %w", err)
	}
	cfg := bgapi.Config{Logger: c.Logger, Passkey: c.Passkey, PasskeyDisplay: c.PasskeyDisplay}
	if w.pty != nil {
		cfg.Port = w.pty.Path() // the real serial-port code, as with a dongle
	} else {
		cfg.Port = "emulator"
		cfg.Dial = func() (io.ReadWriteCloser, error) { return w.emu.Pipe(), nil }
	}
	return &simBackend{Backend: bgapi.New(cfg), w: w}, nil
}

func serveSim(ctx context.Context, log *slog.Logger, link cli.SimLink, ready func(string, []cli.SimPeripheral)) error {
	w, err := startSim(log, false, link)
	if errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("this system has no pseudo-terminals to serve the emulator on (--sim works with every other command): %w", err)
	}
	if err != nil {
		return err
	}
	defer w.close()
	kinds := map[string]string{
		sim.HeartRateAddress:   "heart-rate sensor (180d, 180f, 180a)",
		sim.ThermometerAddress: "health thermometer (1809)",
		sim.TortureAddress:     "torture device (see docs/sim.md)",
	}
	var ps []cli.SimPeripheral
	for _, p := range w.peripherals {
		ps = append(ps, cli.SimPeripheral{Address: p.Address().String(), Name: p.Name(), Kind: kinds[p.Address().String()]})
	}
	ready(w.pty.Path(), ps)
	<-ctx.Done()
	return nil
}
