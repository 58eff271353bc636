package bgapi_test

// README.md and docs/porting-from-pygatt.md show lines of these examples; the root package's
// TestDocGoBlocks checks that they still match.

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
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// A BLED112 dongle: connect, read the battery level, stream heart-rate notifications until
// Ctrl-C. (It needs a dongle, so it is compiled but not run; Example runs the same calls against
// the emulator.)
func ExampleNew() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt) // Ctrl-C ends ctx
	defer stop()

	backend := bgapi.New(bgapi.Config{}) // Port "" finds the BLED112 by its USB ID 2458:0001
	if err := backend.Start(ctx); err != nil {
		log.Fatal(err) // errors.Is(err, gogatt.ErrNoAdapter) when none is plugged in
	}
	defer backend.Stop()

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
	select { // the handler prints each value until Ctrl-C, or until the link is lost
	case <-ctx.Done():
	case <-dev.Disconnected():
		log.Fatal(dev.Err())
	}
}

// No hardware: the BLED112 emulator (package sim/bled112) on a real pseudo-terminal, opened by
// the BGAPI backend through the same serial-port code as a dongle. Use the same set-up to test
// your own code. Then: connect, read the battery level, and print the first three heart-rate
// notifications.
func Example() {
	hrm := sim.NewHeartRateSensor(bt.MustParseAddress("C0:FF:EE:00:00:01"), 1) // seed 1: same values every run
	if err := hrm.SetNotifyRate(hrm.ValueHandle(gogatt.UUID16(0x2a37)), 20); err != nil {
		log.Fatal(err) // 20 notifications/s rather than a real sensor's 1/s
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

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := bgapi.New(bgapi.Config{Port: port.Path()}) // a dongle: bgapi.Config{} finds it by USB ID
	if err := b.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer b.Stop()
	dev, err := b.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{AddressType: gogatt.AddressPublic})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Disconnect()
	level, err := dev.CharRead(ctx, gogatt.UUID16(0x2a19)) // Battery Level
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("battery", level[0], "%")

	values := make(chan []byte, 3)
	err = dev.Subscribe(ctx, gogatt.UUID16(0x2a37), func(handle uint16, value []byte) {
		select {
		case values <- value: // keep the first three values
		default: // and never block: the handler runs on a goroutine of the library's
		}
	}, gogatt.SubscribeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		select {
		case v := <-values:
			fmt.Println("heart rate", v[1], "bpm") // flags, then a uint8 bpm (HRS §3.1.1)
		case <-dev.Disconnected():
			log.Fatal(dev.Err())
		case <-ctx.Done():
			log.Fatal(ctx.Err())
		}
	}
	// Output:
	// battery 56 %
	// heart rate 87 bpm
	// heart rate 72 bpm
	// heart rate 76 bpm
}
