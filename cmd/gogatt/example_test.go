package main

// Library quickstarts, one per backend. They compile with the tests; Example_emulator also runs
// (against the BLED112 emulator on a pseudo-terminal) and checks its output. README.md shows
// them.

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// A BLED112 dongle: scan, connect, read the battery level, stream heart-rate notifications.
func Example_bgapi() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	backend := bgapi.New(bgapi.Config{}) // Port "" finds the BLED112 by its USB ID 2458:0001
	if err := backend.Start(ctx); err != nil {
		log.Fatal(err) // errors.Is(err, gogatt.ErrNoAdapter) when none is plugged in
	}
	defer backend.Stop()

	found, err := backend.Scan(ctx, gogatt.ScanOptions{Timeout: 2 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range found {
		fmt.Println(d.Address, d.RSSI, d.Name)
	}

	dev, err := backend.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Disconnect()

	level, err := dev.CharRead(ctx, gogatt.UUID16(0x2a19)) // Battery Level
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("battery %d %%\n", level[0])

	err = dev.Subscribe(ctx, gogatt.UUID16(0x2a37), func(handle uint16, value []byte) {
		fmt.Printf("heart rate %d bpm\n", value[1]) // flags, then a uint8 bpm (HRS §3.1.1)
	}, gogatt.SubscribeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	select { // stream for 5 s, until Ctrl-C, or until the link drops
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	case <-dev.Disconnected():
		log.Fatal(dev.Err())
	}
}

// BlueZ through gatttool, hcitool and bluetoothctl: the same code with another Backend.
func Example_gatttool() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	backend := gatttool.New(gatttool.Config{HCIDevice: "hci0"})
	if err := backend.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer backend.Stop()

	dev, err := backend.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{AddressType: gogatt.AddressPublic})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Disconnect()

	services, err := dev.Services(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range services {
		fmt.Println("service", s.UUID)
		for _, c := range s.Characteristics {
			fmt.Printf("  characteristic %s handle 0x%04x %s\n", c.UUID, c.ValueHandle, c.Properties)
		}
	}
	name, err := dev.CharRead(ctx, gogatt.UUID16(0x2a00)) // Device Name
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("name %q\n", name)
}

// No hardware: the BLED112 emulator with the demo peripherals on a pseudo-terminal, opened by
// the BGAPI backend exactly as a dongle would be. Use the same set-up to test your own code.
func Example_emulator() {
	ctx := context.Background()

	hrm := sim.NewHeartRateSensor(bt.MustParseAddress("C0:FF:EE:00:00:01"), 1)            // seed 1
	if err := hrm.SetNotifyRate(hrm.ValueHandle(gogatt.UUID16(0x2a37)), 50); err != nil { // 50/s
		log.Fatal(err)
	}
	emu, err := bled112.New(bled112.Config{Peripherals: []*sim.Peripheral{hrm}})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	port, err := emu.ListenPTY("") // a real pty, e.g. /tmp/bled112-…/ttyACM0
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()

	backend := bgapi.New(bgapi.Config{Port: port.Path()})
	if err := backend.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer backend.Stop()

	dev, err := backend.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Disconnect()

	level, err := dev.CharRead(ctx, gogatt.UUID16(0x2a19))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("battery %d %%\n", level[0])

	bpm := make(chan byte, 3)
	err = dev.Subscribe(ctx, gogatt.UUID16(0x2a37), func(handle uint16, value []byte) {
		select {
		case bpm <- value[1]: // handlers run on a library goroutine: never block it for ever
		default:
		}
	}, gogatt.SubscribeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		fmt.Printf("heart rate %d bpm\n", <-bpm)
	}
	if err := dev.Unsubscribe(ctx, gogatt.UUID16(0x2a37)); err != nil {
		log.Fatal(err)
	}
	// Output:
	// battery 56 %
	// heart rate 87 bpm
	// heart rate 72 bpm
	// heart rate 76 bpm
}
