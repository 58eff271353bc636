// Package bluezsim lets the real Debian BlueZ 5.66 tools — gatttool, hcitool and bluetoothctl —
// run unmodified against simulated peripherals from package sim, on a machine without
// Bluetooth hardware or kernel support (what the tools ask of their sockets and print:
// docs/bluez-tools.md, §Test shim in particular).
//
// # Usage
//
//	bluezsim.RequireTools(t) // skips, or fails when GOGATT_REQUIRE_BLUEZ=1
//	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: sim.DemoPeripherals(1)})
//	if err != nil { … }
//	defer env.Close()
//	cmd := exec.Command("gatttool", "-i", env.HCIDevice(), "-b", sim.HeartRateAddress, "-I")
//	cmd.Env = append(os.Environ(), env.Environ()...)
//
// Start compiles the LD_PRELOAD shim (C, embedded) with gcc into a content-addressed cache file
// under os.TempDir() (built once, reused by every later Start and process), makes a socket
// directory, and starts, per Env: one unix SOCK_SEQPACKET listener per peripheral, a simulated
// HCI controller, a private dbus-daemon (allow-all policy) and a simulated org.bluez service.
// Environ returns LD_PRELOAD, GOGATT_BLUEZSIM_DIR, GOGATT_BLUEZSIM_LOG and
// DBUS_SYSTEM_BUS_ADDRESS. Close tears everything down and waits for it (goleak-clean); it does
// not end tool processes: callers end the ones they started, by PID. Several Envs may run at
// once (each has its own directory and bus). ShimLog names a trace of every intercepted socket
// call, useful to debug or to assert what a tool asked for (e.g. "BT_SECURITY level=2").
//
// # gatttool (L2CAP ATT)
//
// The shim turns socket(AF_BLUETOOTH, SOCK_SEQPACKET, BTPROTO_L2CAP) into an AF_UNIX
// SOCK_SEQPACKET socket and connects it to $GOGATT_BLUEZSIM_DIR/le-<ADDRESS>; each message is
// one ATT PDU, relayed to a sim.Link from Peripheral.Connect (central = the controller
// address). It answers BT_SECURITY, BT_SNDMTU/BT_RCVMTU (23), L2CAP_OPTIONS, SO_DOMAIN,
// SO_PROTOCOL, SO_TYPE, SO_ERROR, getsockname and getpeername (sockaddr_l2, cid 4) as the kernel
// does. Connection outcomes, as gatttool prints them ("connect to ADDR: …"), all reported
// asynchronously like the kernel's (EINPROGRESS, then SO_ERROR):
//
//   - success: "Connection successful" at once;
//   - no such peripheral in the Env, or SetRefuseConnections: "Connection refused (111)";
//   - out of range (SetInRange(false)), not connectable, or the wrong address type (-t random
//     for a public peripheral): the attempt pends — gatttool stays responsive and `disconnect`
//     aborts it silently — and succeeds as soon as the peripheral is back in range, or fails
//     after Options.LEConnectTimeout (default 20 s, the kernel's) with
//     "Transport endpoint is not connected (107)" (LE Create Connection Cancel, status 0x02);
//   - sec-level medium/high at connect and pairing refused: "Permission denied (13)".
//
// A race in gatttool itself, reproduced faithfully: after a connection error reported
// asynchronously, gatttool's G_IO_HUP watch on the failed channel is dispatched one GLib
// main-loop iteration later (GLib polls a HUP-only watch separately); a `connect` read from
// the terminal in that same iteration starts a new attempt that the stale watch then tears
// down silently (the prompt just stays uncoloured, no line is printed). Drivers should run one
// harmless command (e.g. `sec-level`, which prints "sec-level: low") after a connect error
// before connecting again, or retry a connect that produced no result line.
//
// Link loss (SetInRange(false), DisconnectAll) closes the socket: gatttool prints its GLib
// "Invalid file descriptor." warning. gatttool's `mtu` is a real ATT Exchange MTU with the sim.
//
// Security: every setsockopt(BT_SECURITY) — the interactive `sec-level` command (interactive
// gatttool ignores the --sec-level option: it connects at low unless `sec-level` was typed),
// --sec-level in non-interactive mode, and the ATT layer's automatic raise after Insufficient
// Encryption/Authentication (docs/bluez-tools.md §Security level) — is stored by the shim
// (getsockopt returns it) and, once connected, forwarded in-band as a control message
// (0xFF "BZSIM" 'S' level) that the Go side strips before the ATT stream. The Go side then does
// what the kernel's SMP would: low → nothing, medium → sim.SecurityEncrypted, high/FIPS →
// sim.SecurityAuthenticated; if the host and the peripheral still share a good enough bond the
// link is re-encrypted (Link.Encrypt), otherwise it pairs with bonding (Link.Pair) and the bond
// appears in org.bluez (Env.Bonds). A refused pairing (SetRefusePairing) leaves the level as
// it was, so the retried request fails again and gatttool prints the ATT error. Because the
// control message travels in the same ordered stream, the retried request is always served
// after the new security is in place.
//
// # hcitool (raw HCI)
//
// socket(AF_BLUETOOTH, SOCK_RAW, BTPROTO_HCI) becomes a unix socket; HCIGETDEVLIST and
// HCIGETDEVINFO are answered from $GOGATT_BLUEZSIM_DIR/hci-devices (one controller, up);
// bind(hciN) connects to the simulated controller ("Invalid device: No such device" for
// another index); HCI_FILTER is kept by the shim and applied by the controller like the
// kernel's raw-socket filter. The controller answers LE Set Scan Parameters and Enable and
// Reset with Command Complete (other commands: status Unknown HCI Command; scan parameters while
// scanning: Command Disallowed) and, while scanning, sends one LE Advertising Report per
// in-range peripheral at its advertising interval plus 0–10 ms: ADV_IND (or ADV_SCAN_IND /
// ADV_NONCONN_IND) with the advertising data, and when scanning actively a SCAN_RSP with the
// scan response data. Duplicate filtering (the default; --duplicates turns it off) reports each
// (address, event type) once per scan; --acceptlist reports nothing (the accept list is empty).
// A scan survives its socket: hcitool killed by SIGTERM leaves the controller scanning, and
// the next lescan fails with "Set scan parameters failed: Input/output error"
// (docs/bluez-tools.md §Stopping lescan) until ResetController. Note: hcitool only notices SIGINT
// while blocked in read(2); a SIGINT landing while it prints a report is lost and it scans on — a
// race in hcitool itself, most visible with --duplicates; drivers should repeat SIGINT until it
// exits.
//
// # bluetoothctl (D-Bus)
//
// org.bluez exposes ObjectManager at "/", AgentManager1 at /org/bluez (so bluetoothctl prints
// "Agent registered"), Adapter1 at /org/bluez/hciN (powered; RemoveDevice, discovery methods
// accepted) and one Device1 per bond (Address, AddressType, Name and Alias = the peripheral's
// name, else the address with dashes, Paired = Bonded = true, Connected = whether a gatttool
// connection to it is up, with PropertiesChanged). Removing a connected device disconnects it
// first (gatttool sees the link drop; bluetoothctl prints "[CHG] … Connected: no"). Enough for
// `devices`, `devices Paired`, `remove <addr>` and `remove *` with bluetoothd's message order
// (the reply, then InterfacesRemoved, in one write, so that a non-interactive remove usually
// prints "Device has been removed" and the [DEL] line; under load bluetoothctl may read the
// reply alone and exit before the [DEL] line, as with bluetoothd — drivers must not wait for
// it). Likewise a non-interactive `remove *` exits at the first reply, and the calls for the
// other devices may not have left bluetoothctl yet: remove devices one by one and verify with
// `devices Paired` (interactively, quote it — `remove '*'` — or bluetoothctl's shell expands the
// * against the working directory: "Too many arguments"). `paired-devices` does not exist in
// 5.66.
// Bonds come from gatttool security raises and Env.AddBond. SetBluetoothd(false) releases
// the org.bluez name as if bluetoothd had stopped (bluetoothctl then waits for ever), and
// SetPowered(false) powers the adapter off. With Options.AdvertisementMonitor the adapter also
// has AdvertisementMonitorManager1, as bluetoothd --experimental has (passive scanning with
// or_patterns monitors, advmon.go); Env.MonitorApps lists the registered applications.
//
// Not simulated: BR/EDR (gatttool -p), HCI commands beyond scanning, adapter property changes
// (power off), Device1.Connect/Pair, bluetoothctl `scan on`, and real radio timing (a
// successful connection completes at once).
package bluezsim
