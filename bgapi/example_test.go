package bgapi_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// The BGAPI backend against the BLED112 emulator on a pseudo-terminal: the same code opens a
// real dongle (Config{} auto-detects it by USB ID 2458:0001).
func Example() {
	emu, err := bled112.New(bled112.Config{Peripherals: sim.DemoPeripherals(1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	pty, err := emu.ListenPTY("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pty.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := bgapi.New(bgapi.Config{Port: pty.Path()})
	if err := b.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer b.Stop()

	dev, err := b.Connect(ctx, sim.HeartRateAddress, gogatt.ConnectOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Disconnect()
	loc, err := dev.CharRead(ctx, gogatt.UUID16(0x2A38)) // Body Sensor Location
	fmt.Printf("location %x %v\n", loc, err)

	got := make(chan []byte, 1)
	err = dev.Subscribe(ctx, gogatt.UUID16(0x2A37), func(_ uint16, v []byte) {
		select {
		case got <- v:
		default:
		}
	}, gogatt.SubscribeOptions{})
	fmt.Println("subscribed:", err)
	v := <-got
	fmt.Printf("heart rate flags %#x, %d bytes\n", v[0], len(v))
	// Output:
	// location 01 <nil>
	// subscribed: <nil>
	// heart rate flags 0x6, 2 bytes
}
