package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// opts holds every command's own flags; each command registers the ones it uses.
type opts struct {
	// scan
	duration time.Duration
	name     string
	passive  bool
	// connecting commands
	addressType string
	bond        bool
	// values
	format string
	size   int
	signed bool
	endian string
	// read / write
	long       bool
	noResponse bool
	// subscribe
	indicate bool
	count    int
	seq      bool
	// bond
	temporary bool
	// clear-bond
	all bool
	// rssi
	watch    bool
	interval time.Duration
	// sim (and interval)
	background bool
	perEvent   int
	// demo
	address  string
	scanFor  time.Duration
	streamFr time.Duration
}

type command struct {
	name     string
	args     string // synopsis of the arguments
	summary  string
	long     string
	minArgs  int
	maxArgs  int // -1: unlimited
	examples []string
	flags    func(fs *pflag.FlagSet, o *opts)
	run      func(ctx context.Context, a *app, args []string) error
}

// synopsis is the command line as typed: "gogatt read [flags] ADDRESS CHAR".
func (c *command) synopsis() string {
	return strings.TrimSpace("gogatt " + c.name + " [flags] " + c.args)
}

func (c *command) argsDesc() string {
	switch {
	case c.minArgs == c.maxArgs && c.minArgs == 0:
		return "no arguments"
	case c.minArgs == c.maxArgs:
		return fmt.Sprintf("%d argument(s): %s", c.minArgs, c.args)
	}
	return fmt.Sprintf("%d to %d argument(s): %s", c.minArgs, c.maxArgs, c.args)
}

const charHelp = `CHAR is a characteristic UUID (2a19, 0x2A19, 32- or 128-bit), SERVICE/CHAR when the
same UUID occurs in several services (180f/2a19), or handle:0x0013 — a value handle as
'gogatt services' shows it.`

const valueHelp = `--format: auto (decode heart rate 2a37, battery level 2a19 and temperature 2a1c; hex
otherwise), hex, utf8, or int (with --size 1|2|4|8, --signed, --endian little|big; Bluetooth
values are little-endian). Text from a device is shown with control characters and bytes that
are not UTF-8 escaped (\x1b, \u009b, \xff), so it cannot drive the terminal.`

func addressTypeFlag(fs *pflag.FlagSet, o *opts) {
	fs.StringVar(&o.addressType, "address-type", "public", "the device's address type: public or random")
}

func connFlags(fs *pflag.FlagSet, o *opts) {
	addressTypeFlag(fs, o)
	fs.BoolVar(&o.bond, "bond", false, "pair (and bond) before the operation, for characteristics that need encryption")
}

func valueFlags(fs *pflag.FlagSet, o *opts) {
	fs.StringVar(&o.format, "format", "auto", "value format: auto, hex, utf8 or int")
	fs.IntVar(&o.size, "size", 1, "int format: bytes per integer (1, 2, 4 or 8)")
	fs.BoolVar(&o.signed, "signed", false, "int format: signed (two's complement)")
	fs.StringVar(&o.endian, "endian", "little", "int format: byte order, little or big")
}

var commands []*command

func init() {
	commands = []*command{
		{
			name: "scan", args: "", summary: "list advertising devices",
			long: `Scans for advertising devices. On a terminal the table (address, name, RSSI, last seen,
manufacturer) is redrawn in place with the time left.

Otherwise (a pipe or a file) the output streams: a device's line (with --json: one JSON object
per line) is printed as soon as it is first seen, in the order devices are found, so
"gogatt scan | grep HRM" or "gogatt scan --json | jq" show devices at once. A device is
printed again when it gains information the line shows: typically its name or manufacturer
data, which many devices put only in the scan response; with --json also service UUIDs or TX
power. RSSI changes alone print nothing. Every line is complete, so the last one for an address is the fullest
(dedupe with "jq -s 'group_by(.address) | map(last)'"). With --name a device is printed once
its name matches. The summary ("Scan finished: N devices in …") goes to stderr. Names are shown
with control characters escaped (\x1b), so a device cannot drive the terminal.

Ctrl-C ends the scan early (exit status 0) and keeps what was printed; so does the reader of
the pipe going away ("| head -1", "| grep -m1 NAME"), at once. The scan is always stopped on
the adapter.`,
			maxArgs: 0,
			examples: []string{
				"gogatt scan --sim",
				"gogatt scan --duration 10s --name HRM",
				"gogatt scan --json --port /dev/ttyACM0 | jq .address",
				"gogatt scan --sim --duration 1m | grep -m1 Thermo",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long to scan")
				fs.StringVar(&o.name, "name", "", "only devices whose name contains this text (case-insensitive)")
				fs.BoolVar(&o.passive, "passive", false, "passive scan: send no scan requests (no scan-response data)")
			},
			run: runScan,
		},
		{
			name: "services", args: "ADDRESS", summary: "print a device's GATT service tree",
			long: `Connects and prints every primary service with its characteristics (value handle,
properties) and their descriptors.`,
			minArgs: 1, maxArgs: 1,
			examples: []string{
				"gogatt services --sim C0:FF:EE:00:00:01",
				"gogatt services --json C0:FF:EE:00:00:01 | jq '.services[].characteristics[].uuid'",
			},
			flags: connFlags,
			run:   runServices,
		},
		{
			name: "read", args: "ADDRESS CHAR", summary: "read a characteristic",
			long:    "Reads a characteristic's value and prints it.\n\n" + charHelp + "\n\n" + valueHelp,
			minArgs: 2, maxArgs: 2,
			examples: []string{
				"gogatt read --sim C0:FF:EE:00:00:01 2a19",
				"gogatt read C0:FF:EE:00:00:01 180a/2a29 --format utf8",
				"gogatt read C0:FF:EE:00:00:01 handle:0x0003 --format hex",
				"gogatt read C0:FF:EE:00:00:02 2a21 --format int --size 2",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				connFlags(fs, o)
				valueFlags(fs, o)
				fs.BoolVar(&o.long, "long", false, "read a value longer than one ATT packet (Read Blob)")
			},
			run: runRead,
		},
		{
			name: "write", args: "ADDRESS CHAR VALUE", summary: "write a characteristic",
			long: "Writes VALUE to a characteristic, with a Write Request (acknowledged) unless\n--no-response is given.\n\n" + charHelp +
				"\n\nVALUE is read with --format: hex (01ff, 0x01ff, \"01 ff\", 01:ff; the default, auto, is hex\nhere), utf8, or int (one or more integers, decimal or 0x…, each checked against --size/--signed).",
			minArgs: 3, maxArgs: 3,
			examples: []string{
				"gogatt write --sim C0:FF:EE:00:00:01 2a39 01",
				"gogatt write C0:FF:EE:00:00:02 2a21 --format int --size 2 30",
				"gogatt write C0:FF:EE:00:00:03 handle:0x0021 --format utf8 'hello'",
				"gogatt write C0:FF:EE:00:00:03 handle:0x0021 --format int --signed -- -5",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				connFlags(fs, o)
				valueFlags(fs, o)
				fs.BoolVar(&o.noResponse, "no-response", false, "use a Write Command (unacknowledged)")
				fs.BoolVar(&o.long, "long", false, "write up to 512 bytes with Prepare/Execute Write")
			},
			run: runWrite,
		},
		{
			name: "subscribe", args: "ADDRESS CHAR", summary: "stream notifications or indications",
			long: `Enables notifications (or indications with --indicate) through the characteristic's
CCCD and prints each value as it arrives, until Ctrl-C, --count values or --duration. At the
end it prints how many values arrived and the rate; with --seq (values that start with a
4-byte little-endian sequence number, as the sim package's generator sends) also how many were
lost, duplicated or out of order.

` + charHelp + "\n\n" + valueHelp,
			minArgs: 2, maxArgs: 2,
			examples: []string{
				"gogatt subscribe --sim C0:FF:EE:00:00:01 2a37 --count 10",
				"gogatt subscribe C0:FF:EE:00:00:02 2a1c --indicate --duration 1m",
				"gogatt subscribe C0:FF:EE:00:00:03 handle:0x0030 --seq --json",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				connFlags(fs, o)
				valueFlags(fs, o)
				fs.BoolVar(&o.indicate, "indicate", false, "use indications (acknowledged) instead of notifications")
				fs.IntVar(&o.count, "count", 0, "stop after this many values (0: no limit)")
				fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: no limit)")
				fs.BoolVar(&o.seq, "seq", false, "values start with a 4-byte little-endian sequence number: count lost and out-of-order values")
			},
			run: runSubscribe,
		},
		{
			name: "bond", args: "ADDRESS", summary: "pair with a device and store the keys",
			long: `Connects, pairs and (unless --temporary) bonds. The adapter keeps the bond: every later
connection to the device, by any gogatt command in any later run, is encrypted with it, so
characteristics that need encryption can be read and written without --bond.

Pairing is Just Works (encrypted, without MITM protection) unless --passkey is given: then the
passkey protects it against a man in the middle, as characteristics that need authentication
require. --passkey N gives the passkey the device shows (or has printed on it); --passkey ask
asks for it when the device wants one (a prompt on a terminal, else a line of standard input).
When the adapter is the one to show a passkey, it is printed on stderr: type it on the device.
A bond made without MITM protection is not upgraded: remove it first with clear-bond.`,
			minArgs: 1, maxArgs: 1,
			examples: []string{
				"gogatt bond --sim C0:FF:EE:00:00:03",
				"gogatt bond --temporary C0:FF:EE:00:00:03",
				"gogatt bond --passkey 123456 C0:FF:EE:00:00:03",
				"gogatt bond --passkey ask C0:FF:EE:00:00:03",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				addressTypeFlag(fs, o)
				fs.BoolVar(&o.temporary, "temporary", false, "pair for this connection only; store no bond")
			},
			run: runBond,
		},
		{
			name: "clear-bond", args: "ADDRESS | --all", summary: "forget one bond, or all",
			long: `Removes the bond with ADDRESS from the adapter, or every bond with --all. The device
keeps its own half of the bond until it is reset or pairs again.

A BLED112 names its bonds by number only. gogatt records which address each one belongs to
in the dongle's own persistent store when it bonds, and when a connection shows a bond not
recorded yet; a bond made by another program is found once gogatt has connected to the
device (any command). With --backend bluez or gatttool, bluetoothd knows every bond by
address.`,
			minArgs: 0, maxArgs: 1,
			examples: []string{
				"gogatt clear-bond C0:FF:EE:00:00:03",
				"gogatt clear-bond --all",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.BoolVar(&o.all, "all", false, "remove every bond")
			},
			run: runClearBond,
		},
		{
			name: "rssi", args: "ADDRESS", summary: "signal strength of a connection",
			long:    "Connects and prints the link's RSSI in dBm; with --watch, repeatedly until Ctrl-C or --count.",
			minArgs: 1, maxArgs: 1,
			examples: []string{
				"gogatt rssi --sim C0:FF:EE:00:00:01",
				"gogatt rssi --watch --interval 500ms C0:FF:EE:00:00:01",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				addressTypeFlag(fs, o)
				fs.BoolVar(&o.watch, "watch", false, "keep measuring until Ctrl-C (or --count)")
				fs.IntVar(&o.count, "count", 0, "with --watch: stop after this many measurements")
				fs.DurationVar(&o.interval, "interval", time.Second, "with --watch: time between measurements")
			},
			run: runRSSI,
		},
		{
			name: "sim", args: "", summary: "run the BLED112 emulator on a pseudo-terminal",
			long: `Runs the emulated BLED112 with the demo peripherals (heart-rate sensor C0:FF:EE:00:00:01,
thermometer C0:FF:EE:00:00:02, torture device C0:FF:EE:00:00:03) on a pseudo-terminal. The
first line printed is the path to open: any BGAPI client (gogatt --port, pygatt, your own) can
use it as if a dongle were plugged in. Serves until Ctrl-C.

With --background it serves from a process of its own: gogatt prints the path (its only line on
stdout), says on stderr which process serves it, and exits at once, so a script can capture
the path with $(…). That process has no terminal; stop it with kill (SIGTERM or SIGINT), which
removes the path.

By default the emulator answers as fast as the host reads. --interval models a real radio link:
every ATT PDU, in either direction, takes one of --per-event slots of a connection event, one
event per interval (BLE allows 7.5 ms to 4 s), so an application sees the request counts and
round trips it would see on a dongle: e.g. --interval 7.5ms --per-event 4, or --interval 30ms
--per-event 1 for a slow, busy link.`,
			maxArgs: 0,
			examples: []string{
				"gogatt sim",
				"port=$(gogatt sim --background)   # then: gogatt scan --port \"$port\"",
				"gogatt sim --background --json    # {\"port\":…,\"pid\":…,\"peripherals\":[…]}",
				"gogatt sim --interval 7.5ms --per-event 4   # realistic link timing",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.BoolVar(&o.background, "background", false, "serve from a process of its own; print the path and exit")
				fs.DurationVar(&o.interval, "interval", 0, "model a link: connection interval, 7.5ms to 4s (default: no model, as fast as the host reads)")
				fs.IntVar(&o.perEvent, "per-event", 0, "with --interval: ATT PDUs (either direction) per connection event (default 4)")
			},
			run: runSim,
		},
		{
			name: "demo", args: "", summary: "the guided tour: scan, connect, tree, battery, heart rate",
			long: `Scans, connects to the demo heart-rate sensor (C0:FF:EE:00:00:01), prints its service
tree, reads its battery level and streams heart-rate notifications for a few seconds with a
rate summary. With --sim it runs anywhere, no hardware needed.`,
			maxArgs: 0,
			examples: []string{
				"gogatt demo --sim",
				"gogatt demo --port /dev/ttyACM0 --address 00:07:80:AA:BB:CC",
			},
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.address, "address", "C0:FF:EE:00:00:01", "the heart-rate sensor to connect to")
				fs.DurationVar(&o.scanFor, "scan", 2*time.Second, "how long to scan first")
				fs.DurationVar(&o.streamFr, "duration", 3*time.Second, "how long to stream heart-rate notifications")
				addressTypeFlag(fs, o)
			},
			run: runDemo,
		},
		{
			name: "completion", args: "bash|zsh|fish|powershell", summary: "print a shell completion script",
			long: `Prints a completion script for the shell. It completes commands, flags and their values
and, where the adapter can be reached (with the --sim, --port or --backend given earlier on the
line), device addresses from a short scan (` + completionScan.String() + `) and a device's characteristics (UUID,
SERVICE/CHAR or handle:N, with their names) from its service tree. To enable it:

  bash:        source <(gogatt completion bash)       in ~/.bashrc, after bash-completion is
               loaded (Debian's default ~/.bashrc loads it; package bash-completion)
  zsh:         gogatt completion zsh > "${fpath[1]}/_gogatt"       once, with compinit in
               ~/.zshrc ("autoload -U compinit; compinit")
  fish:        gogatt completion fish > ~/.config/fish/completions/gogatt.fish       once
  PowerShell:  gogatt completion powershell | Out-String | Invoke-Expression   in $PROFILE

Then start a new shell.`,
			minArgs: 1, maxArgs: 1,
			examples: []string{
				"gogatt completion zsh > \"${fpath[1]}/_gogatt\"",
				"source <(gogatt completion bash)",
				"gogatt completion fish > ~/.config/fish/completions/gogatt.fish",
			},
			run: runCompletion,
		},
		{
			name: "version", args: "", summary: "print the version, VCS revision and Go version of this binary",
			long: `Prints gogatt's module version, the VCS revision and commit time it was built from (and
whether the checkout had uncommitted changes), and the Go toolchain and platform. A binary built
from a checkout with go run (or -buildvcs=false) has no VCS information and the version
"(devel)". Same as 'gogatt --version'.`,
			maxArgs:  0,
			examples: []string{"gogatt version", "gogatt --version", "gogatt version --json"},
			run:      runVersion,
		},
	}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}
