package gatttool_test

// README.md shows the body of ExampleNew; the root package's TestDocGoBlocks checks that it
// still matches.

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/gatttool"
)

// BlueZ through gatttool, hcitool and bluetoothctl: connect and print the service tree. It
// needs BlueZ and a radio, so it is compiled but not run. The calls are those of any other
// gogatt.Backend: package bgapi's examples run them against an emulated adapter.
func ExampleNew() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt) // Ctrl-C ends ctx
	defer stop()

	backend := gatttool.New(gatttool.Config{HCIDevice: "hci0"})
	if err := backend.Start(ctx); err != nil {
		log.Fatal(err) // errors.Is(err, gogatt.ErrNoAdapter) without hci0
	}
	defer backend.Stop()

	dev, err := backend.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{AddressType: gogatt.AddressPublic})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Disconnect()

	services, err := dev.Services(ctx) // service → characteristic → descriptor tree
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range services {
		fmt.Println("service", s.UUID)
		for _, c := range s.Characteristics {
			fmt.Printf("  characteristic %s handle 0x%04x %s\n", c.UUID, c.ValueHandle, c.Properties)
		}
	}
}
