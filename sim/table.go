package sim

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

func showProps(p gatt.Properties) string { return strings.ReplaceAll(p.String(), "|", ", ") }

func showUUID(u bt.UUID) string {
	s := u.Short()
	if n := gatt.Name(u); n != "" {
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
	for _, a := range p.db().attrs {
		var kind, uuid, props, sec, val, note string
		switch a.kind {
		case kindService:
			kind = "Primary Service"
			if a.typ == gatt.UUIDSecondaryService {
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
	db := p.db()
	for _, s := range db.services {
		for _, ch := range s.chars {
			cccd := "—"
			if ch.cccd != 0 {
				cccd = fmt.Sprintf("0x%04X", ch.cccd)
			}
			fmt.Fprintf(&b, "| %s | %s | 0x%04X | 0x%04X | %s | %s | %s | %s |\n", showUUID(s.uuid), showUUID(ch.uuid),
				ch.handle, ch.value, cccd, showProps(ch.props), showSecurity(db.find(ch.value)), ch.note)
		}
	}
	return b.String()
}
