package sim

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gogatt/gogatt/bt"
)

// uuidName names the SIG-assigned UUIDs the demos use (Assigned Numbers §3.4–3.8).
func uuidName(u bt.UUID) string {
	v, ok := u.Is16()
	if !ok {
		return ""
	}
	switch v {
	case 0x1800:
		return "Generic Access"
	case 0x1801:
		return "Generic Attribute"
	case 0x1809:
		return "Health Thermometer"
	case 0x180A:
		return "Device Information"
	case 0x180D:
		return "Heart Rate"
	case 0x180F:
		return "Battery"
	case 0x2800:
		return "Primary Service"
	case 0x2801:
		return "Secondary Service"
	case 0x2803:
		return "Characteristic"
	case 0x2900:
		return "Extended Properties"
	case 0x2901:
		return "User Description"
	case 0x2902:
		return "CCCD"
	case 0x2904:
		return "Presentation Format"
	case 0x2A00:
		return "Device Name"
	case 0x2A01:
		return "Appearance"
	case 0x2A05:
		return "Service Changed"
	case 0x2A19:
		return "Battery Level"
	case 0x2A1C:
		return "Temperature Measurement"
	case 0x2A1D:
		return "Temperature Type"
	case 0x2A1E:
		return "Intermediate Temperature"
	case 0x2A21:
		return "Measurement Interval"
	case 0x2A24:
		return "Model Number"
	case 0x2A25:
		return "Serial Number"
	case 0x2A26:
		return "Firmware Revision"
	case 0x2A27:
		return "Hardware Revision"
	case 0x2A28:
		return "Software Revision"
	case 0x2A29:
		return "Manufacturer Name"
	case 0x2A37:
		return "Heart Rate Measurement"
	case 0x2A38:
		return "Body Sensor Location"
	case 0x2A39:
		return "Heart Rate Control Point"
	}
	return ""
}

// String lists the set bits, e.g. "read|notify".
func (p Properties) String() string {
	names := [...]string{"broadcast", "read", "write-without-response", "write", "notify", "indicate", "signed-write", "extended"}
	var parts []string
	for i, n := range names {
		if p&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

func showProps(p Properties) string { return strings.ReplaceAll(p.String(), "|", ", ") }

func showUUID(u bt.UUID) string {
	s := u.Short()
	if n := uuidName(u); n != "" {
		s += " " + n
	}
	return s
}

func showValue(v []byte) string {
	if len(v) == 0 {
		return "(empty)"
	}
	printable := len(v) >= 3 && utf8.Valid(v)
	for _, r := range string(v) {
		if r < 0x20 || r == '|' || r == '`' {
			printable = false
		}
	}
	if printable {
		return fmt.Sprintf("%q", string(v))
	}
	const maxShown = 8
	s := fmt.Sprintf("% x", v[:min(len(v), maxShown)])
	if len(v) > maxShown {
		s = fmt.Sprintf("%d octets: %s …", len(v), s)
	}
	return s
}

func showSecurity(a *attr) string {
	var parts []string
	if a.readSec == SecurityAuthenticated {
		parts = append(parts, "authentication")
	} else if a.readSec == SecurityEncrypted {
		parts = append(parts, "encryption")
	}
	if a.authz {
		parts = append(parts, "authorization")
	}
	return strings.Join(parts, ", ")
}

// HandleTable returns the attribute table of the database as Markdown, one row per attribute:
// handle, attribute type, UUID, properties, security, initial value and the builder's note.
// docs/sim.md is generated from it.
func (p *Peripheral) HandleTable() string {
	var b strings.Builder
	b.WriteString("| Handle | Attribute | UUID | Properties | Security | Value | Note |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	p.valMu.RLock()
	defer p.valMu.RUnlock()
	for _, a := range p.db.attrs {
		var kind, uuid, props, sec, val, note string
		switch a.kind {
		case kindService:
			kind = "Primary Service"
			if a.typ == TypeSecondaryService {
				kind = "Secondary Service"
			}
			u, _ := bt.UUIDFromLE(a.value)
			uuid = "**" + showUUID(u) + "**"
			val = fmt.Sprintf("ends at 0x%04X", a.end)
		case kindCharDecl:
			kind = "Characteristic"
			uuid = showUUID(a.ch.uuid)
			props = showProps(a.ch.props)
			val = fmt.Sprintf("value 0x%04X", a.ch.value)
		case kindValue:
			kind = "Value"
			uuid = showUUID(a.typ)
			sec = showSecurity(a)
			val = showValue(a.value)
			if a.onRead != nil {
				val = "(computed)"
			}
			note = a.ch.note
			if a.maxLen < 512 {
				note = strings.TrimPrefix(note+fmt.Sprintf("; max length %d", a.maxLen), "; ")
			}
		case kindCCCD:
			kind, uuid, val = "Descriptor", showUUID(a.typ), "per link"
		default:
			kind, uuid, val = "Descriptor", showUUID(a.typ), showValue(a.value)
			if a.write {
				props = "read, write"
			}
		}
		fmt.Fprintf(&b, "| 0x%04X | %s | %s | %s | %s | %s | %s |\n", a.handle, kind, uuid, props, sec, val, note)
	}
	return b.String()
}

// CharacteristicTable returns a Markdown summary of the characteristics: service, UUID,
// declaration, value and CCCD handles, properties, security and the builder's note.
func (p *Peripheral) CharacteristicTable() string {
	var b strings.Builder
	b.WriteString("| Service | Characteristic | Decl | Value | CCCD | Properties | Security | Note |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, s := range p.db.services {
		for _, ch := range s.chars {
			cccd := "—"
			if ch.cccd != 0 {
				cccd = fmt.Sprintf("0x%04X", ch.cccd)
			}
			fmt.Fprintf(&b, "| %s | %s | 0x%04X | 0x%04X | %s | %s | %s | %s |\n", showUUID(s.uuid), showUUID(ch.uuid),
				ch.handle, ch.value, cccd, showProps(ch.props), showSecurity(p.db.find(ch.value)), ch.note)
		}
	}
	return b.String()
}
