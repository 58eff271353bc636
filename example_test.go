package gogatt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// useBackend is what an application does with any Backend, whichever adapter it drives: start
// it, find a heart-rate sensor, connect, read a value, subscribe to notifications, clean up.
func useBackend(ctx context.Context, b gogatt.Backend) error {
	if err := b.Start(ctx); err != nil {
		return err // errors.Is(err, gogatt.ErrNoAdapter) when there is no dongle/HCI device
	}
	defer b.Stop()

	// OnAdvertisement runs on this goroutine, between advertisements: it may set found freely.
	// Returning false ends the scan at the first device whose name contains "HRM".
	var found gogatt.ScanResult
	_, err := b.FilteredScan(ctx, "HRM", gogatt.ScanOptions{
		Timeout:         5 * time.Second,
		OnAdvertisement: func(r gogatt.ScanResult) bool { found = r; return false },
	})
	if err != nil {
		return err
	}
	if found.Address == "" {
		return errors.New("no heart-rate sensor in range")
	}
	fmt.Printf("found %s %s\n", found.Name, found.Address)

	dev, err := b.Connect(ctx, found.Address, gogatt.ConnectOptions{AddressType: found.AddressType})
	if err != nil {
		return err
	}
	defer dev.Disconnect()

	level, err := dev.CharRead(ctx, gogatt.UUID16(0x2a19)) // Battery Level
	if err != nil {
		return err
	}
	fmt.Printf("battery: %d%%\n", level[0])

	// The handler runs on a goroutine of the library's, in order; it may keep value. It must
	// not block for ever: here the channel has room for every value the loop below takes.
	beats := make(chan []byte, 3)
	measurement := gogatt.UUID16(0x2a37) // Heart Rate Measurement
	err = dev.Subscribe(ctx, measurement, func(handle uint16, value []byte) {
		select {
		case beats <- value:
		default:
		}
	}, gogatt.SubscribeOptions{})
	if err != nil {
		return err
	}
	for range 3 {
		select {
		case v := <-beats:
			fmt.Printf("heart rate: %d bpm\n", v[1]) // flags octet, then a uint8 rate
		case <-dev.Disconnected():
			return dev.Err()
		case <-ctx.Done():
			return fmt.Errorf("waiting for notifications: %w", ctx.Err())
		}
	}
	return dev.Unsubscribe(ctx, measurement)
}

// ExampleBackend scans, connects, reads and subscribes through the Backend interface. In a
// program, b is bgapi.New(bgapi.Config{}) for a BLED112 dongle or gatttool.New(gatttool.Config{})
// for BlueZ; here it is the BGAPI backend on the BLED112 emulator of package sim/bled112, over an
// in-process pipe, so that the example runs without a radio.
func ExampleBackend() {
	hrm := sim.NewHeartRateSensor(bt.MustParseAddress(sim.HeartRateAddress), 1) // seed 1: same values every run
	if err := hrm.SetNotifyRate(hrm.ValueHandle(gogatt.UUID16(0x2a37)), 20); err != nil {
		log.Fatal(err)
	}
	emu, err := bled112.New(bled112.Config{Peripherals: []*sim.Peripheral{hrm}})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	b := bgapi.New(bgapi.Config{Dial: func() (io.ReadWriteCloser, error) { return emu.Pipe(), nil }})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := useBackend(ctx, b); err != nil {
		log.Fatal(err)
	}
	// Output:
	// found gogatt HRM C0:FF:EE:00:00:01
	// battery: 56%
	// heart rate: 87 bpm
	// heart rate: 72 bpm
	// heart rate: 76 bpm
}
