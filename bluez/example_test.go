package bluez_test

// docs/bluez-dbus.md shows the body of ExampleNew; the root package's TestDocGoBlocks checks
// that it still matches.

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
)

// BlueZ over D-Bus: connect and print the service tree. It needs bluetoothd and a radio, so it
// is compiled but not run.
func ExampleNew() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt) // Ctrl-C ends ctx
	defer stop()

	backend := bluez.New(bluez.Config{Adapter: "hci0"}) // the system bus; BusAddress for another
	if err := backend.Start(ctx); err != nil {
		log.Fatal(err) // errors.Is(err, gogatt.ErrNoAdapter) without hci0 or bluetoothd
	}
	defer backend.Stop()

	dev, err := backend.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{})
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
	}
}
