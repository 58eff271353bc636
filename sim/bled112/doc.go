// Package bled112 emulates a Silicon Labs (Bluegiga) BLED112 USB dongle running BLE SDK 1.x
// firmware, byte for byte, as the BLE SDK 1.x API reference ("Bluetooth Smart Software API
// Reference") describes it; docs/bgapi-protocol.md in the repository lists the behaviours it
// reproduces and their sources, and marks where the emulator had to choose. It serves the BGAPI
// 1.x binary protocol (package bgapi/wire) over any io.ReadWriteCloser or over a real
// pseudo-terminal that serial-port libraries open like a dongle. Towards the air it acts as a
// GATT client of sim peripherals: every attclient command runs the real ATT procedure against
// the peripheral's ATT server through sim.Peripheral.Connect / *sim.Link.
//
// # Usage
//
//	emu, err := bled112.New(bled112.Config{
//		Peripherals: sim.DemoPeripherals(1), // heart-rate, thermometer, torture device
//		Slots:       3,                      // connection slots (stock firmware: 3, max 8)
//	})
//	defer emu.Close()
//
//	// Over a pseudo-terminal (what the BGAPI backend or any BGAPI tool opens):
//	pty, err := emu.ListenPTY("")  // "" = a fresh temporary directory
//	defer pty.Close()
//	port := pty.Path()              // e.g. /tmp/bled112-123/ttyACM0, a stable symlink
//	// serial.Open(port, &serial.Mode{BaudRate: 115200}) …
//
//	// In process:
//	host := emu.Pipe()              // io.ReadWriteCloser: write commands, read responses/events
//	defer host.Close()
//
//	// Or serve a connection of your own (blocks until it closes or the emulator closes):
//	go emu.ServeConn(rwc)
//
// One port is served at a time (a dongle has one CDC interface); the dongle's state —
// connections, scanning, bonds — belongs to the Emulator and survives the host closing and
// reopening the pty, as on real hardware. Output written while no client has the pty open stays
// queued in the tty like a real dongle's stale output — clients flush after opening
// (docs/bgapi-protocol.md §Resynchronisation) — and once the kernel's buffer is full the
// emulator waits for a reader (backpressure, which in turn stalls the sim links), as it does
// for a slow host.
//
// # Behaviour
//
// Every command except system_reset/dfu_reset gets exactly one response, before any event it
// causes (docs/bgapi-protocol.md §Command discipline). Unknown commands (a class/ID BGAPI 1.x
// does not define) get no response but a system_protocol_error event with reason 0x0184
// invalid_command; a known command whose payload length does not match its layout gets
// system_protocol_error with 0x0180 invalid_param; a partial command left incomplete for
// Config.PartialCommandTimeout (1 s, as firmware) is discarded with system_protocol_error
// 0x0185 timeout (the firmware's 1 s timeout is documented; the reason codes are this
// emulator's choice, as the API reference does not name them).
//
//   - system: hello, reset (no response, no boot event over USB unless Config.SendBootEvent
//     asks for a module's behaviour; drops every connection and procedure; bonds survive; with
//     Config.ReenumerateOnReset the port vanishes and comes back at the same path),
//     address_get, get_info, get_connections (+ one connection_status per slot, flags 0 for
//     free slots, as iotile's emulator), get_counters (reading resets), whitelist_*,
//     aes_setkey/encrypt/decrypt (AES-128), endpoint_*, reg_*/read_memory (zeros).
//   - gap: set_mode, set_scan_parameters, set_filtering (duplicate filtering), discover (a
//     gap_scan_response per advertisement of every in-range sim peripheral at its advertising
//     interval, the first at once; limited/generic filter on the AD flags; scan responses
//     (type 4) only when scanning is active), end_procedure (0x0181 when idle),
//     connect_direct (0x0181 while connecting, 0x0209 when every slot is in use; then
//     connection_status flags 0x05; silence — retrying at the advertising interval — while the
//     peripheral is absent, out of range or already connected to us, until end_procedure;
//     connection_disconnected 0x023E when the peripheral refuses), connect_selective (any
//     in-range whitelisted peripheral), set_adv_parameters/set_adv_data/… accepted.
//   - connection: disconnect (→ connection_disconnected reason Config.DisconnectReason, default
//     0x0216; Config.ZeroDisconnectReason for 0), get_rssi, get_status (→ connection_status),
//     update (→ connection_status with parameters_change), version_update (→ version_ind),
//     features_get (→ feature_ind), channel_map_get/set, slave_latency_disable. A link lost to
//     sim (out of range) gives connection_disconnected 0x0208; the peripheral closing it
//     0x0213. A procedure interrupted by a lost link never completes.
//   - attclient: find_information, read_by_group_type, read_by_type, find_by_type_value,
//     read_by_handle, read_long (22-byte chunks, all reported with type 4 read_blob),
//     read_multiple (→ read_multiple_response, no procedure_completed), attribute_write,
//     write_command, prepare_write, execute_write, indicate_confirm — each as the ATT procedure
//     of docs/bgapi-protocol.md §Procedures (discoveries end with procedure_completed result 0
//     and the command's end handle when the server answers Attribute Not Found; ATT errors map
//     to 0x04xx). One procedure per connection: a second gets 0x0181. Notifications and
//     indications arrive as attribute_value type 1/2 in order and without loss (the serial
//     stream applies backpressure to the link); with Config.ManualIndicationConfirm indications
//     use type 5 and wait for indicate_confirm.
//   - sm: set_bondable_mode, set_parameters, encrypt_start (with a stored bond the peripheral
//     still holds: encryption with its keys, no pairing, no passkey; else, when MITM is
//     requested and the IO capabilities allow it, passkey_display, or passkey_request answered
//     by passkey_entry; then sm_bond_status when a bond is stored and connection_status with
//     the encrypted flag; sm_bonding_fail 0x0305 when the peripheral refuses), get_bonds
//     (with one sm_bond_status each), delete_bonding (one, or 0xFF = all; 8 bonds at most,
//     then 0x018B), set_oob_data, whitelist_bonds.
//   - flash: ps_save, ps_load, ps_erase, ps_erase_all, ps_dump (an in-memory store that
//     survives reset). attributes (the dongle's own GATT database, unused by a central): every
//     handle is invalid (0x0401). Every other known command — the rest of flash, hardware,
//     test, dfu — gets its response with all fields zero (result 0), which is what a host
//     needs; the hardware itself (GPIO, ADC, SPI, I²C, timers, radio test modes, DFU) is not
//     modelled.
//
// # Timing and faults
//
// By default everything runs as fast as the host reads (throughput tests). Config.Link adds a
// link model: every ATT PDU in either direction takes a slot of PacketsPerEvent per
// ConnInterval (write_command then answers 0x0182 when its 16-PDU TX queue is full). Fault
// hooks: InjectGarbage (raw bytes into the output stream), DropOutput (lose the next n output
// bytes), SetResponseDelay, Reset (a restart as another program's system_reset causes: state
// dropped without events, then re-enumeration or system_boot as Config says), Unplug/Replug on
// the PTY (PTY.Back signals the port's return after Replug or a re-enumerating reset), and the
// sim peripheral's own hooks (SetInRange(false) mid-procedure → connection_disconnected 0x0208
// after the supervision timeout given in connect_direct; SetRefuseConnections, SetUnresponsive
// → procedure_completed 0x0185 after Config.ATTTimeout; SetCorruptResponses → 0x0404;
// SetRefusePairing …).
//
// Timers are ordinary time package timers, so tests may run the emulator inside a
// testing/synctest bubble (virtual time), as this package's own tests do.
package bled112
