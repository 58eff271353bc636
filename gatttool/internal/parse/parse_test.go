package parse

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
)

// Raw byte sequences as the BlueZ 5.66 binaries print them (observed; the PIDs and times of GLib
// warnings vary), described in docs/bluez-tools.md §Prompt, §Terminal output, §Connect, §Link
// loss, §Notifications and §Signals and exit.
var captures = []struct {
	name string
	raw  string
	want []string // tokens: "P:<addr>:<LE|BR>:<c|u>" for prompts, "L:<line>" for lines
}{
	{"primary disconnected xterm",
		"primary\r\n\x1b[?2004l\r\x1b[0;91mCommand Failed: \x1b[0mDisconnected\r\n\x1b[?2004h[                 ][LE]> ",
		[]string{"L:primary", "L:Command Failed: Disconnected", "P::LE:u"}},
	{"empty line",
		"\r\x1b[K\r\x1b[?2004l\r\x1b[?2004h[11:22:33:44:55:66][LE]> ",
		[]string{"P:11:22:33:44:55:66:LE:u"}},
	{"primary results",
		"primary\r\n\x1b[?2004l\r\x1b[?2004h\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> \r\x1b[Kattr handle: 0x0001, end grp handle: 0x0005 uuid: 00001800-0000-1000-8000-00805f9b34fb\r\n\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> \r\x1b[Kattr handle: 0x0006, end grp handle: 0x0009 uuid: 00001801-0000-1000-8000-00805f9b34fb\r\n\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> ",
		[]string{"L:primary", "P:11:22:33:44:55:66:LE:c",
			"L:attr handle: 0x0001, end grp handle: 0x0005 uuid: 00001800-0000-1000-8000-00805f9b34fb", "P:11:22:33:44:55:66:LE:c",
			"L:attr handle: 0x0006, end grp handle: 0x0009 uuid: 00001801-0000-1000-8000-00805f9b34fb", "P:11:22:33:44:55:66:LE:c"}},
	{"dumb async line",
		"[11:22:33:44:55:66][LE]> char-re\r                                    \rNotification handle = 0x000c value: 48 65 6c 6c 6f \r\n\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> char-re",
		[]string{"P:11:22:33:44:55:66:LE:u", "L:Notification handle = 0x000c value: 48 65 6c 6c 6f ", "P:11:22:33:44:55:66:LE:c"}},
	{"connect success",
		"connect 11:22:33:44:55:66\r\n\x1b[?2004l\rAttempting to connect to 11:22:33:44:55:66\r\n\x1b[?2004h[11:22:33:44:55:66][LE]> \r\x1b[KConnection successful\r\n\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> ",
		[]string{"L:connect 11:22:33:44:55:66", "L:Attempting to connect to 11:22:33:44:55:66", "P:11:22:33:44:55:66:LE:u", "L:Connection successful", "P:11:22:33:44:55:66:LE:c"}},
	{"connect socket failure",
		"Attempting to connect to 11:22:33:44:55:66\r\n\x1b[0;91mError: \x1b[0msocket(SEQPACKET, L2CAP): Address family not supported by protocol (97)\r\n\x1b[?2004h[11:22:33:44:55:66][LE]> ",
		[]string{"L:Attempting to connect to 11:22:33:44:55:66", "L:Error: socket(SEQPACKET, L2CAP): Address family not supported by protocol (97)", "P:11:22:33:44:55:66:LE:u"}},
	{"connect refused later",
		"\r\x1b[K\x1b[0;91mError: \x1b[0mconnect to AA:BB:CC:DD:EE:FF: Connection refused (111)\r\n[AA:BB:CC:DD:EE:FF][LE]> ",
		[]string{"L:Error: connect to AA:BB:CC:DD:EE:FF: Connection refused (111)", "P:AA:BB:CC:DD:EE:FF:LE:u"}},
	{"disconnect",
		"disconnect\r\n\x1b[?2004l\r\r\n(gatttool:4242): GLib-\x1b[1;33mWARNING\x1b[0m **: \x1b[34m12:34:56.789\x1b[0m: Invalid file descriptor.\r\n\x1b[?2004h[11:22:33:44:55:66][LE]> ",
		[]string{"L:disconnect", "L:", "L:(gatttool:4242): GLib-WARNING **: 12:34:56.789: Invalid file descriptor.", "P:11:22:33:44:55:66:LE:u"}},
	{"link loss with pending requests",
		"\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> \r\x1b[K\x1b[0;91mError: \x1b[0mCharacteristic value/descriptor read failed: Request attribute has encountered an unlikely error\r\n[11:22:33:44:55:66][LE]> \r\x1b[K\x1b[0;91mError: \x1b[0mDiscover all primary services failed: Request attribute has encountered an unlikely error\r\n[11:22:33:44:55:66][LE]> \r\n(gatttool:77): GLib-\x1b[1;33mWARNING\x1b[0m **: \x1b[34m01:02:03.004\x1b[0m: Invalid file descriptor.\r\n",
		[]string{"P:11:22:33:44:55:66:LE:c",
			"L:Error: Characteristic value/descriptor read failed: Request attribute has encountered an unlikely error", "P:11:22:33:44:55:66:LE:u",
			"L:Error: Discover all primary services failed: Request attribute has encountered an unlikely error", "P:11:22:33:44:55:66:LE:u",
			"L:", "L:(gatttool:77): GLib-WARNING **: 01:02:03.004: Invalid file descriptor."}},
	{"redraw after loss",
		"\r\x1b[4P[11:22:33:44:55:66][LE]> primary\r\n",
		[]string{"P:11:22:33:44:55:66:LE:u", "L:primary"}},
	{"BR and odd address",
		"[                 ][BR]> [            hello][LE]> [AA:BB:CC:DD:EE:FF:00][LE]> ",
		[]string{"P::BR:u", "P:hello:LE:u", "P:AA:BB:CC:DD:EE:FF:00:LE:u"}},
	{"notification idle",
		"\r\x1b[KNotification handle = 0x000c value: 48 65 6c 6c 6f \r\n\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> ",
		[]string{"L:Notification handle = 0x000c value: 48 65 6c 6c 6f ", "P:11:22:33:44:55:66:LE:c"}},
	{"SIGINT", "\r\n[                 ][LE]> ", []string{"L:", "P::LE:u"}},
	{"dumb redraw with backspaces",
		"exit       \b\b\b\b\b\b\b\r\n",
		[]string{"L:exit"}},
	{"pipes", "sec-level\nsec-level: low\n[                 ][LE]> ", []string{"L:sec-level", "L:sec-level: low", "P::LE:u"}},
}

func tokString(t Token) string {
	if t.IsPrompt {
		c := "u"
		if t.Prompt.Connected {
			c = "c"
		}
		return "P:" + t.Prompt.Address + ":" + t.Prompt.Transport + ":" + c
	}
	return "L:" + t.Line
}

func TestSplitterCaptures(t *testing.T) {
	for _, tc := range captures {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and byte by byte: chunk boundaries must not matter.
			for _, chunk := range []int{len(tc.raw), 1, 7} {
				var s Splitter
				var got []string
				for i := 0; i < len(tc.raw); i += chunk {
					s.Feed([]byte(tc.raw[i:min(len(tc.raw), i+chunk)]), func(tk Token) { got = append(got, tokString(tk)) })
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("chunk %d:\n got %q\nwant %q", chunk, got, tc.want)
				}
			}
		})
	}
}

func uuid(s string) bt.UUID { return bt.MustParseUUID(s) }

func TestParseGatttool(t *testing.T) {
	tests := []struct {
		line string
		want Line
	}{
		{"attr handle: 0x0001, end grp handle: 0x0005 uuid: 00001800-0000-1000-8000-00805f9b34fb",
			Line{Kind: Primary, Handle: 1, Start: 1, End: 5, UUID: uuid("1800")}},
		{"attr handle = 0x000c, end grp handle = 0xffff uuid: 6e400001-b5a3-f393-e0a9-e50e24dcca9e",
			Line{Kind: Primary, Handle: 12, Start: 12, End: 0xffff, UUID: uuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e")}},
		{"Starting handle: 0x0010 Ending handle: 0x0020", Line{Kind: PrimaryRange, Handle: 16, Start: 16, End: 32}},
		{"Starting handle: 0010 Ending handle: 0020", Line{Kind: PrimaryRange, Handle: 16, Start: 16, End: 32}},
		{"handle: 0x0002, start handle: 0x0010, end handle: 0x0015 uuid: 0000180f-0000-1000-8000-00805f9b34fb",
			Line{Kind: Included, Handle: 2, Start: 16, End: 21, UUID: uuid("180f")}},
		{"No included services found for this range", Line{Kind: NoIncluded}},
		{"handle: 0x0002, char properties: 0x0a, char value handle: 0x0003, uuid: 00002a00-0000-1000-8000-00805f9b34fb",
			Line{Kind: Characteristic, Handle: 2, ValueHandle: 3, Properties: 0x0a, UUID: uuid("2a00")}},
		{"handle = 0x000d, char properties = 0x20, char value handle = 0x000e, uuid = 6e400002-b5a3-f393-8877-665544332211",
			Line{Kind: Characteristic, Handle: 13, ValueHandle: 14, Properties: 0x20, UUID: uuid("6e400002-b5a3-f393-8877-665544332211")}},
		{"handle: 0x000f, uuid: 00002902-0000-1000-8000-00805f9b34fb", Line{Kind: Descriptor, Handle: 15, UUID: uuid("2902")}},
		{"handle = 0x000f, uuid = 00002902-0000-1000-8000-00805f9b34fb", Line{Kind: Descriptor, Handle: 15, UUID: uuid("2902")}},
		{"Characteristic value/descriptor: 48 65 6c 6c 6f ", Line{Kind: Value, Value: []byte("Hello")}},
		{"Characteristic value/descriptor: ", Line{Kind: Value}},
		{"handle: 0x0003 \t value: 01 02 ", Line{Kind: UUIDValue, Handle: 3, Value: []byte{1, 2}}},
		{"Characteristic value was written successfully", Line{Kind: Written}},
		{"MTU was exchanged successfully: 100", Line{Kind: MTUExchanged, MTU: 100}},
		{"sec-level: low", Line{Kind: SecLevel, Text: "low"}},
		{"sec-level: HIGH", Line{Kind: SecLevel, Text: "HIGH"}},
		{"Allowed values: low | medium | high", Line{Kind: AllowedSecLevels}},
		{"Change will take effect on reconnection", Line{Kind: ChangeOnReconnect}},
		{"Usage: char-write-req <handle> <new value>", Line{Kind: Usage, Text: "char-write-req <handle> <new value>"}},
		{"Usage: mtu <value>", Line{Kind: Usage, Text: "mtu <value>"}},
		{"Attempting to connect to 11:22:33:44:55:66", Line{Kind: Attempting, Text: "11:22:33:44:55:66"}},
		{"Connection successful", Line{Kind: Connected}},
		{"Can't detect MTU, using default: Protocol not available", Line{Kind: MTUWarning, Text: "Protocol not available"}},
		{"(gatttool:4242): GLib-WARNING **: 12:34:56.789: Invalid file descriptor.",
			Line{Kind: Disconnected, Text: "(gatttool:4242): GLib-WARNING **: 12:34:56.789: Invalid file descriptor."}},
		{"(gatttool:22352): GLib-WARNING **: Invalid file descriptor.",
			Line{Kind: Disconnected, Text: "(gatttool:22352): GLib-WARNING **: Invalid file descriptor."}},
		{"Notification handle = 0x000c value: 48 65 6c 6c 6f ", Line{Kind: Notification, Handle: 12, Value: []byte("Hello")}},
		{"Notification handle = 0x000c value: ", Line{Kind: Notification, Handle: 12}},
		{"Indication   handle = 0x0025 value: 01 ", Line{Kind: Indication, Handle: 0x25, Value: []byte{1}}},
		{"Command Failed: Disconnected", Line{Kind: NotConnected, Text: "Disconnected"}},
		{"Command Failed: MTU exchange can only occur once per connection.", Line{Kind: CommandFailed, Text: "MTU exchange can only occur once per connection."}},
		{"Command Failed: Operation is only available for LE transport.", Line{Kind: CommandFailed, Text: "Operation is only available for LE transport."}},
		{"Error: connect to AA:BB:CC:DD:EE:FF: Connection refused (111)", Line{Kind: ConnectError, Errno: syscall.ECONNREFUSED, Text: "connect to AA:BB:CC:DD:EE:FF: Connection refused (111)"}},
		{"Error: connect error: Connection refused (111)", Line{Kind: ConnectError, Errno: syscall.ECONNREFUSED, Text: "connect error: Connection refused (111)"}},
		{"Error: socket(SEQPACKET, L2CAP): Address family not supported by protocol (97)", Line{Kind: ConnectError, Errno: syscall.EAFNOSUPPORT, Text: "socket(SEQPACKET, L2CAP): Address family not supported by protocol (97)"}},
		{"Error: l2cap_bind: Address already in use (98)", Line{Kind: ConnectError, Errno: 98, Text: "l2cap_bind: Address already in use (98)"}},
		{"Error: setsockopt(BT_SECURITY): Invalid argument (22)", Line{Kind: ConnectError, Errno: 22, Text: "setsockopt(BT_SECURITY): Invalid argument (22)"}},
		{"Error: Remote Bluetooth address required", Line{Kind: ErrorLine, Text: "Remote Bluetooth address required"}},
		{"Error: foo: command not found", Line{Kind: ErrorLine, Text: "foo: command not found"}},
		{"Error: No primary service found", Line{Kind: ErrorLine, Text: "No primary service found"}},
		{"Error: Invalid handle: zz", Line{Kind: ErrorLine, Text: "Invalid handle: zz"}},
		{"Error: Invalid value. Minimum MTU size is 23", Line{Kind: ErrorLine, Text: "Invalid value. Minimum MTU size is 23"}},
		{"Error: Protocol error", Line{Kind: ErrorLine, Text: "Protocol error"}},
		{"Error: Characteristic value/descriptor read failed: Attribute requires authentication before read/write",
			Line{Kind: ATTErrorLine, Procedure: "Characteristic value/descriptor read", Code: 0x05, CodeKnown: true, Text: "Characteristic value/descriptor read failed: Attribute requires authentication before read/write"}},
		{"Error: Discover all characteristics failed: No attribute found within the given range",
			Line{Kind: ATTErrorLine, Procedure: "Discover all characteristics", Code: 0x0a, CodeKnown: true, Text: "Discover all characteristics failed: No attribute found within the given range"}},
		{"Error: Characteristic Write Request failed: Unexpected error code",
			Line{Kind: ATTErrorLine, Procedure: "Characteristic Write Request", Text: "Characteristic Write Request failed: Unexpected error code"}},
		{"help                                           Show this help", Line{Kind: Help, Text: "help                                           Show this help"}},
		{"char-read-hnd   <handle>                       Characteristics Value/Descriptor Read by handle", Line{Kind: Help, Text: "char-read-hnd   <handle>                       Characteristics Value/Descriptor Read by handle"}},
		{"char-read-hnd 0x0003", Line{Kind: Unknown, Text: "char-read-hnd 0x0003"}},
		{"Notification handle = 0x000c value: 4", Line{Kind: Unknown, Text: "Notification handle = 0x000c value: 4"}},
		{"", Line{Kind: Empty}},
	}
	for _, tc := range tests {
		got := ParseGatttool(tc.line)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseGatttool(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

// Every ATT error text (docs/bluez-tools.md §ATT error texts), under every procedure prefix
// gatttool uses (§Error lines).
func TestATTErrorTable(t *testing.T) {
	table := map[string]att.ErrorCode{
		"Invalid handle": 0x01, "Attribute can't be read": 0x02, "Attribute can't be written": 0x03,
		"Attribute PDU was invalid": 0x04, "Attribute requires authentication before read/write": 0x05,
		"Server doesn't support the request received": 0x06, "Offset past the end of the attribute": 0x07,
		"Attribute requires authorization before read/write": 0x08, "Too many prepare writes have been queued": 0x09,
		"No attribute found within the given range": 0x0a, "Attribute can't be read/written using Read Blob Req": 0x0b,
		"Encryption Key Size is insufficient": 0x0c, "Attribute value length is invalid": 0x0d,
		"Request attribute has encountered an unlikely error": 0x0e, "Encryption required before read/write": 0x0f,
		"Attribute type is not a supported grouping attribute": 0x10, "Insufficient Resources to complete the request": 0x11,
		"Internal application error: I/O": 0x80, "A timeout occurred": 0x81, "The operation was aborted": 0x82,
	}
	procs := []string{"Discover all primary services", "Discover primary services by UUID", "Find included services",
		"Discover all characteristics", "Discover descriptors", "Characteristic value/descriptor read",
		"Read characteristics by UUID", "Characteristic Write Request", "Exchange MTU Request"}
	for text, code := range table {
		for _, p := range procs {
			l := ParseGatttool("Error: " + p + " failed: " + text)
			if l.Kind != ATTErrorLine || l.Code != code || !l.CodeKnown || l.Procedure != p {
				t.Fatalf("%s / %s: got %+v", p, text, l)
			}
			err := l.Err("read", 0x2a)
			var ae *gogatt.ATTError
			if !errors.As(err, &ae) || ae.Code != code || ae.Handle != 0x2a || ae.Op != "read" {
				t.Fatalf("Err() = %v", err)
			}
		}
	}
}

func TestLineErr(t *testing.T) {
	tests := []struct {
		line string
		is   []error
	}{
		{"Command Failed: Disconnected", []error{gogatt.ErrNotConnected}},
		{"Command Failed: MTU exchange can only occur once per connection.", []error{gogatt.ErrBusy}},
		{"Command Failed: Operation is only available for LE transport.", []error{gogatt.ErrUnsupported}},
		{"Error: connect to AA:BB:CC:DD:EE:FF: Connection refused (111)", []error{gogatt.ErrNotConnected, syscall.ECONNREFUSED}},
		{"Error: socket(SEQPACKET, L2CAP): Address family not supported by protocol (97)", []error{gogatt.ErrNotConnected, gogatt.ErrNoAdapter, syscall.EAFNOSUPPORT}},
		{"Error: No primary service found", []error{gogatt.ErrNotFound}},
		{"Error: No service UUID found", []error{gogatt.ErrNotFound}},
		{"Error: foo: command not found", []error{gogatt.ErrUnsupported}},
		{"Error: Invalid UUID", []error{gogatt.ErrInvalidParameter}},
		{"Error: A valid handle is required", []error{gogatt.ErrInvalidParameter}},
		{"Error: Missing argument: handle", []error{gogatt.ErrInvalidParameter}},
		{"(gatttool:1): GLib-WARNING **: Invalid file descriptor.", []error{gogatt.ErrNotConnected}},
	}
	for _, tc := range tests {
		l := ParseGatttool(tc.line)
		err := l.Err("op", 0)
		if err == nil {
			t.Fatalf("%q: nil error (kind %v)", tc.line, l.Kind)
		}
		for _, want := range tc.is {
			if !errors.Is(err, want) {
				t.Errorf("%q: %v does not match %v", tc.line, err, want)
			}
		}
	}
	if err := ParseGatttool("Error: Protocol error").Err("read", 1); !ErrProtocol(err) {
		t.Errorf("protocol error not recognised: %v", err)
	}
	if ParseGatttool("Connection successful").Err("x", 0) != nil {
		t.Error("success line gave an error")
	}
}

func TestParseLescan(t *testing.T) {
	raw := "LE Scan ...\r\nAA:BB:CC:DD:EE:01 (unknown)\r\nAA:BB:CC:DD:EE:01 Thermo01\r\nC0:FF:EE:00:00:03 name with spaces \r\n^C"
	var s Splitter
	s.Mode = ModePlain
	var got []ScanLine
	s.Feed([]byte(raw), func(tk Token) { got = append(got, ParseLescan(tk.Line)) })
	s.Flush(func(tk Token) { got = append(got, ParseLescan(tk.Line)) })
	want := []ScanLine{
		{Kind: ScanStarted},
		{Kind: ScanReport, Address: bt.MustParseAddress("AA:BB:CC:DD:EE:01")},
		{Kind: ScanReport, Address: bt.MustParseAddress("AA:BB:CC:DD:EE:01"), Name: "Thermo01", HasName: true},
		{Kind: ScanReport, Address: bt.MustParseAddress("C0:FF:EE:00:00:03"), Name: "name with spaces ", HasName: true},
		{Kind: ScanUnknown, Text: "^C"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	errs := []struct {
		line  string
		is    error
		fatal bool
	}{
		{"Invalid device: Address family not supported by protocol", gogatt.ErrNoAdapter, true},
		{"Invalid device: No such device", gogatt.ErrNoAdapter, true},
		{"Invalid device: Network is down", gogatt.ErrNoAdapter, true},
		{"Could not open device: No such device", gogatt.ErrNoAdapter, true},
		{"Set scan parameters failed: Input/output error", gogatt.ErrBusy, true},
		{"Enable scan failed: Input/output error", gogatt.ErrBusy, true},
		{"Set scan parameters failed: Connection timed out", gogatt.ErrTimeout, true},
		{"Set scan parameters failed: Operation not permitted", os.ErrPermission, true},
		{"Could not receive advertising events: Network is down", nil, true},
		{"Disable scan failed: Input/output error", nil, false},
		{`Unknown command - "foo"`, gogatt.ErrInvalidParameter, true},
		{"Unknown discovery procedure", gogatt.ErrInvalidParameter, true},
		{"lescan: invalid option -- 'D'", gogatt.ErrInvalidParameter, true},
	}
	for _, tc := range errs {
		l := ParseLescan(tc.line)
		if l.Kind != ScanError || l.Err == nil || l.Fatal != tc.fatal {
			t.Fatalf("%q: %+v", tc.line, l)
		}
		if tc.is != nil && !errors.Is(l.Err, tc.is) {
			t.Errorf("%q: %v does not match %v", tc.line, l.Err, tc.is)
		}
		if !strings.Contains(l.Err.Error(), tc.line) {
			t.Errorf("%q: message lost: %v", tc.line, l.Err)
		}
	}
	for _, u := range []string{"Usage:", "\tlescan [--privacy] enable privacy", "AABBCCDDEEFF01 x", "AA:BB:CC:DD:EE:GG x"} {
		if l := ParseLescan(u); l.Kind != ScanUnknown {
			t.Errorf("%q: %+v", u, l)
		}
	}
}

func TestParseBluetoothctl(t *testing.T) {
	addr := bt.MustParseAddress("AA:BB:CC:DD:EE:01")
	raw := "Device has been removed\n[\x01\x1b[0;91m\x02DEL\x01\x1b[0m\x02] Device AA:BB:CC:DD:EE:01 Thermo01\n"
	var s Splitter
	s.Mode = ModePlain
	var got []CtlLine
	s.Feed([]byte(raw), func(tk Token) { got = append(got, ParseBluetoothctl(tk.Line)) })
	if len(got) != 2 || got[0].Kind != CtlRemoved || got[1].Kind != CtlEvent || got[1].Event != "DEL" ||
		got[1].Object != "Device" || got[1].Address != addr || got[1].Alias != "Thermo01" {
		t.Fatalf("got %+v", got)
	}
	tests := []struct {
		line string
		kind CtlKind
		is   error
	}{
		{"Waiting to connect to bluetoothd...", CtlWaiting, nil},
		{"Agent registered", CtlAgentRegistered, nil},
		{"Agent unregistered", CtlAgentUnregistered, nil},
		{"Device AA:BB:CC:DD:EE:01 Thermo01", CtlDevice, nil},
		{"Device AA:BB:CC:DD:EE:01 <unknown>", CtlDevice, nil},
		{"Device 11:11:11:11:11:11 not available", CtlNotAvailable, gogatt.ErrNotFound},
		{"No default controller available", CtlNoController, gogatt.ErrNoAdapter},
		{"Missing dev argument", CtlMissingArgument, gogatt.ErrInvalidParameter},
		{"Failed to remove device: org.bluez.Error.NotReady", CtlFailed, gogatt.ErrNoAdapter},
		{"Failed to remove device: org.bluez.Error.DoesNotExist", CtlFailed, gogatt.ErrNotFound},
		{"Failed to remove device: org.bluez.Error.InvalidArguments", CtlFailed, gogatt.ErrInvalidParameter},
		{"Failed to remove device", CtlFailed, nil},
		{"Invalid argument Foo", CtlInvalidArgument, gogatt.ErrInvalidParameter},
		{"Invalid command in menu main: paired-devices", CtlInvalidCommand, gogatt.ErrInvalidParameter},
		{`dbus[123]: arguments to dbus_connection_get_object_path_data() were incorrect, assertion "connection != NULL" failed in file ../../../dbus/dbus-connection.c line 5969.`, CtlNoBus, gogatt.ErrNoAdapter},
		{"[CHG] Device AA:BB:CC:DD:EE:01 Connected: no", CtlEvent, nil},
		{"[NEW] Controller 00:11:22:33:44:55 host [default]", CtlEvent, nil},
	}
	for _, tc := range tests {
		l := ParseBluetoothctl(Clean(tc.line))
		if l.Kind != tc.kind {
			t.Errorf("%q: kind %v want %v", tc.line, l.Kind, tc.kind)
			continue
		}
		err := l.Err("remove")
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%q: %v does not match %v", tc.line, err, tc.is)
		}
		if tc.kind == CtlFailed && err == nil {
			t.Errorf("%q: no error", tc.line)
		}
	}
}

func TestBluetoothctlPrompt(t *testing.T) {
	raw := "\x1b[?2004hWaiting to connect to bluetoothd...\r\x1b[22P\x1b[0;94m[bluetooth]\x1b[0m# \r\x1b[KAgent registered\r\n\x1b[0;94m[bluetooth]\x1b[0m# "
	s := Splitter{Mode: ModeBluetoothctl}
	var got []string
	s.Feed([]byte(raw), func(tk Token) {
		if tk.IsPrompt {
			got = append(got, "P:"+tk.Prompt.Address)
		} else {
			got = append(got, "L:"+tk.Line)
		}
	})
	want := []string{"P:", "P:bluetooth", "L:Agent registered", "P:bluetooth"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestCleanLongRun(t *testing.T) {
	var s Splitter
	n := 0
	s.Feed([]byte(strings.Repeat("x", maxPending+10)), func(Token) { n++ })
	if n != 1 || s.Pending() != "" {
		t.Fatalf("long run: %d tokens, pending %d", n, len(s.Pending()))
	}
}
