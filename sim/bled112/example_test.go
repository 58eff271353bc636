package bled112_test

import (
	"fmt"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// A BGAPI host talks to the emulator over an in-process pipe: system_hello, then a
// connection to the demo heart-rate sensor and a read of its Body Sensor Location.
func Example() {
	emu, err := bled112.New(bled112.Config{Peripherals: sim.DemoPeripherals(1)})
	if err != nil {
		panic(err)
	}
	defer emu.Close()
	host := emu.Pipe()
	defer host.Close()
	dec := wire.NewDecoder(host)
	next := func() wire.Message {
		f, err := dec.Next()
		if err != nil {
			panic(err)
		}
		if f.Event {
			m, _ := wire.DecodeEvent(f)
			return m
		}
		m, _ := wire.DecodeResponse(f)
		return m
	}
	hrm := sim.DemoPeripherals(1)[0].Address()
	for _, cmd := range []wire.Message{
		wire.CmdSystemHello{},
		wire.CmdGapConnectDirect{Address: hrm, ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100},
		wire.CmdAttclientReadByHandle{Connection: 0, Handle: 0x000F},
	} {
		host.Write(cmd.AppendFrame(nil))
		m := next()
		fmt.Println(m.Name())
		if _, ok := cmd.(wire.CmdSystemHello); !ok {
			m = next()
			fmt.Printf("%s %+v\n", m.Name(), m)
		}
	}
	// Output:
	// system_hello
	// gap_connect_direct
	// connection_status &{Connection:0 Flags:5 Address:C0:FF:EE:00:00:01 AddressType:public ConnInterval:60 Timeout:100 Latency:0 Bonding:255}
	// attclient_read_by_handle
	// attclient_attribute_value &{Connection:0 AttHandle:15 Type:read Value:[1]}
}
