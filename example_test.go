package gogatt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gogatt/gogatt"
)

// useBackend is what an application does with any Backend, whichever adapter it drives: start
// it, find a heart-rate sensor, connect, read a value, subscribe to notifications, clean up.
func useBackend(ctx context.Context, b gogatt.Backend) error {
	if err := b.Start(ctx); err != nil {
		return err // errors.Is(err, gogatt.ErrNoAdapter) when there is no dongle/HCI device
	}
	defer b.Stop()

	found, err := b.FilteredScan(ctx, "HR", gogatt.ScanOptions{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return fmt.Errorf("no heart-rate sensor in range")
	}
	r := found[0]
	fmt.Printf("found %s %s (%d dBm)\n", r.Name, r.Address, r.RSSI)

	dev, err := b.Connect(ctx, r.Address, gogatt.ConnectOptions{AddressType: r.AddressType})
	if err != nil {
		return err
	}
	defer dev.Disconnect()

	level, err := dev.CharRead(ctx, gogatt.UUID16(0x2a19)) // Battery Level
	if err != nil {
		return err
	}
	fmt.Printf("battery: %d%%\n", level[0])

	// The handler runs on a goroutine of the library's, in order; it may keep value.
	beats := make(chan []byte, 16)
	measurement := gogatt.UUID16(0x2a37) // Heart Rate Measurement
	err = dev.Subscribe(ctx, measurement, func(handle uint16, value []byte) {
		beats <- value
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
			return gogatt.CtxErr(ctx, "wait for notifications")
		}
	}
	return dev.Unsubscribe(ctx, measurement)
}

// ExampleBackend connects, reads and subscribes through the Backend interface. In a program,
// b is bgapi.New(bgapi.Config{}) for a BLED112 dongle or gatttool.New(gatttool.Config{}) for
// BlueZ; here it is a scripted stand-in (see example_fake_test.go) so that the example runs
// without a radio.
func ExampleBackend() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := useBackend(ctx, newScriptedBackend()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// found HR Sensor C0:FF:EE:00:00:01 (-50 dBm)
	// battery: 87%
	// heart rate: 60 bpm
	// heart rate: 61 bpm
	// heart rate: 62 bpm
}
