// Package bgapi is gogatt's backend for the Silicon Labs (Bluegiga) BLED112 USB dongle and
// other BLE112-family modules running BLE SDK 1.x firmware, spoken to over their binary BGAPI
// serial protocol. docs/bgapi-protocol.md in the repository describes what the package relies
// on about that protocol, with its public sources (the BLE SDK 1.x API reference, the
// Bluetooth Core Specification, pygatt's source).
//
//	b := bgapi.New(bgapi.Config{})          // auto-detect USB 2458:0001, reset on Start
//	if err := b.Start(ctx); err != nil { … } // errors.Is(err, gogatt.ErrNoAdapter), ErrPermissionDenied, ErrPortBusy
//	defer b.Stop()
//	dev, err := b.Connect(ctx, "C0:FF:EE:00:00:01", gogatt.ConnectOptions{})
//
// # Layers
//
// The byte codec is package bgapi/wire. A protocol client runs over any io.ReadWriteCloser: one
// reader goroutine decodes frames (resynchronising after garbage, with an inter-byte timeout)
// and routes responses to the single outstanding command and events by connection handle.
// GATT procedures are serialised per connection (ATT is sequential per bearer) while
// connections proceed in parallel; a dropped link fails every pending operation of that
// connection at once with a *gogatt.DisconnectError; a failed port fails everything with an
// error matching ErrAdapterLost, and so does a dongle that restarts under the client. Backend
// opens the serial port (on Linux a non-blocking file on the Go runtime's poller, elsewhere
// go.bug.st/serial), locked against a second opener where the OS allows (flock), and owns the
// client.
//
// Errors: a failed BGAPI command or procedure is an *Error carrying the command name and the
// wire.Result (errors.Is matches the result); ATT errors from the peer (results 0x04xx) are
// *gogatt.ATTError.
//
// # Using it with the emulator
//
// Package sim/bled112 emulates a BLED112 byte for byte on a real pseudo-terminal, behind a
// stable path (a symlink to the current pty). Open that path exactly like a dongle:
//
//	emu, _ := bled112.New(bled112.Config{Peripherals: sim.DemoPeripherals(1)})
//	pty, _ := emu.ListenPTY("")                       // e.g. /tmp/bled112-123/ttyACM0
//	b := bgapi.New(bgapi.Config{Port: pty.Path()})   // the same code path as a real dongle
//
// The emulator answers system_reset like the firmware (no response, then it is ready on the
// same port, or — with bled112.Config.ReenumerateOnReset — the port vanishes and comes back),
// so the default reset on Start works either way; Config.NoReset skips it. See Example.
//
// # Bonds
//
// A BLED112 keeps its bonds in flash: they outlive the program that made them, a system_reset
// and a power cycle. BGAPI 1.x names a bond by a handle, never by the peer's address: the
// address shows only in connection_status (whose bonding field is the bond handle of the peer,
// or 0xFF) and gap_scan_response, while sm_get_bonds answers with sm_bond_status events that
// carry no address. So:
//
//   - Connect encrypts the link to a peer the dongle holds a bond with (connection_status
//     bonding ≠ 0xFF) before it returns, with sm_encrypt_start: the stored keys encrypt the
//     link, with no pairing and no passkey (Core v5.3 Vol 3 Part H §2.4.4.1), as BlueZ does
//     for a bonded LE device. Characteristics that need encryption then work in every later
//     program. If the peer has lost its keys the link stays up, unencrypted.
//   - Backend.ClearBond(address) works in a program that has never seen the peer: gogatt
//     records which address each bond handle belongs to in the dongle's own persistent store
//     (flash_ps_save), one key per bond handle — 0x8078 + handle for the handles 0–7 (a BLED112
//     stores at most 8 bonds), in the range BGAPI leaves to applications (0x8000–0x807F) —
//     holding "gogatt bond " and the 6 address bytes. A record is written when Bond stores a
//     bond and when a connection names the bond of a peer not recorded yet; ClearBond erases
//     it with the bond. A key holding anything else (another application's data) is never
//     overwritten: that bond then goes unrecorded. A bond made by another program and not
//     seen by gogatt since has no record: connect to the peer once, or clear every bond.
//
// # Differences from pygatt
//
// The package avoids the faults of pygatt's BGAPI backend that docs/bgapi-protocol.md lists
// (section "pygatt faults gogatt avoids"): every non-zero result is an error, a notification
// is never taken for a read result, indications that wait for confirmation are confirmed,
// handlers never run on the reader nor under a lock, and subscribing writes the CCCD found by
// discovery, never value handle + 1.
//
// ExchangeMTU returns gogatt.ErrUnsupported: BGAPI 1.x has no MTU exchange and ATT_MTU stays
// 23, so single reads return ≤22 bytes and writes take ≤20 (CharWriteLong takes up to 512).
package bgapi
