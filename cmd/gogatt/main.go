// Command gogatt talks to Bluetooth Low Energy devices over GATT from a terminal: scan, print a
// device's service tree, read, write, subscribe, bond, measure RSSI — through a BLED112 dongle
// (--backend bgapi), BlueZ's bluetoothd over D-Bus (--backend bluez) or BlueZ's gatttool
// (--backend gatttool). Without --backend: bgapi when a BLED112 is plugged in, else bluez when
// bluetoothd is on the system bus (Linux), else bgapi. With --sim every
// command runs against an emulated BLED112 with demo peripherals, so it works on any machine.
//
//	go run ./cmd/gogatt demo --sim
//	gogatt scan --sim
//	gogatt read --sim C0:FF:EE:00:00:01 2a19
//
// Run "gogatt help" for every command, flag and exit status.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/term"
)

func main() {
	// When stdout's reader goes away (`gogatt subscribe … | head -3`), a write gets SIGPIPE, which
	// would kill the process in the middle of its work: instead the write fails (EPIPE) and the
	// command ends as on Ctrl-C, cleanly. A SIGPIPE from any other pipe (a child's) changes
	// nothing: its write just fails. SIGPIPE stays caught to the end, so writes during the
	// clean-up cannot kill the process either.
	base, brokenPipe := context.WithCancel(context.Background())
	defer brokenPipe()
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	go func() {
		for range pipe {
			if term.WriterBroken(os.Stdout) {
				brokenPipe()
			}
		}
	}()
	// The first Ctrl-C cancels ctx: every command stops cleanly (scan ended on the adapter,
	// connections closed, child processes reaped, the emulator's pty and its directory
	// removed). Then the default handling comes back, so a second Ctrl-C ends a clean-up that
	// hangs. SIGTERM (kill) and SIGHUP (the terminal closed) stop it the same way.
	ctx, stop := signal.NotifyContext(base, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, cli.Env{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Stdin:      os.Stdin,
		StdinFile:  os.Stdin,
		StdoutFile: os.Stdout,
		IsTerminal: term.IsTerminal,
		Width:      func(f *os.File) int { return term.Width(f, 80) },
		StdoutGone: func(ctx context.Context) <-chan struct{} { return term.ReaderGone(ctx, os.Stdout) },
		Open:       openBackend,
		Choose:     defaultBackend,
		ServeSim:   serveSimReporting,
		StartSim:   startSimBackground,
	}, os.Args[1:])
	stop()
	os.Exit(code)
}
