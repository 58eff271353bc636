package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/value"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/profile"
)

// charRef is a characteristic as given on the command line.
type charRef struct {
	uuid    bt.UUID
	service *bt.UUID // SERVICE/CHAR form
	handle  uint16   // handle:N form (uuid zero)
}

// String renders the reference as typed.
func (r charRef) String() string {
	switch {
	case r.handle != 0:
		return fmt.Sprintf("handle 0x%04x", r.handle)
	case r.service != nil:
		return r.service.Short() + "/" + r.uuid.Short()
	}
	return r.uuid.Short()
}

// parseCharRef accepts UUID, SERVICE/CHAR and handle:N (N decimal or 0x hex, 1–0xFFFF).
func parseCharRef(s string) (charRef, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "handle:"); ok {
		v, err := strconv.ParseUint(h, 0, 16)
		if err != nil || v == 0 {
			return charRef{}, fmt.Errorf("characteristic %q: a handle is 1 to 0xffff, e.g. handle:0x000e", s)
		}
		return charRef{handle: uint16(v)}, nil
	}
	if svc, ch, ok := strings.Cut(s, "/"); ok {
		su, err := bt.ParseUUID(svc)
		if err != nil {
			return charRef{}, fmt.Errorf("service of %q: %w", s, err)
		}
		cu, err := bt.ParseUUID(ch)
		if err != nil {
			return charRef{}, fmt.Errorf("characteristic of %q: %w", s, err)
		}
		return charRef{uuid: cu, service: &su}, nil
	}
	u, err := bt.ParseUUID(s)
	if err != nil {
		return charRef{}, fmt.Errorf("characteristic %q: %w (or SERVICE/CHAR, or handle:0x000e)", s, err)
	}
	return charRef{uuid: u}, nil
}

// target is a resolved characteristic (or, for a bare handle, any attribute).
type target struct {
	char  gogatt.Characteristic
	known bool // char comes from discovery
}

// uuid returns the attribute type, zero when unknown.
func (t target) uuid() bt.UUID { return t.char.UUID }

func (t target) label() string {
	if t.char.UUID == (bt.UUID{}) {
		return fmt.Sprintf("handle 0x%04x", t.char.ValueHandle)
	}
	n := gatt.Name(t.char.UUID)
	if n != "" {
		n = " " + n
	}
	return fmt.Sprintf("%s%s [0x%04x]", t.char.UUID.Short(), n, t.char.ValueHandle)
}

// resolve finds the characteristic ref names in dev's service tree. A handle that is not a
// characteristic's value or declaration is still accepted (e.g. a descriptor), so any attribute
// can be read or written.
func resolve(ctx context.Context, dev gogatt.Device, ref charRef) (target, error) {
	services, err := dev.Services(ctx)
	if err != nil {
		return target{}, fmt.Errorf("discovering services: %w", err)
	}
	switch {
	case ref.handle != 0:
		c, err := gogatt.CharacteristicByHandle(services, ref.handle)
		if err == nil {
			if c.ValueHandle == ref.handle {
				return target{char: c, known: true}, nil
			}
			// A declaration handle: the attribute is the declaration itself.
			return target{char: gogatt.Characteristic{ValueHandle: ref.handle, UUID: gogatt.UUIDCharacteristic}}, nil
		}
		if !errors.Is(err, gogatt.ErrNotFound) {
			return target{}, err
		}
		for _, s := range services {
			for _, c := range s.Characteristics {
				for _, d := range c.Descriptors {
					if d.Handle == ref.handle {
						return target{char: gogatt.Characteristic{UUID: d.UUID, ValueHandle: d.Handle}}, nil
					}
				}
			}
		}
		return target{char: gogatt.Characteristic{ValueHandle: ref.handle}}, nil
	case ref.service != nil:
		c, err := gogatt.LookupCharacteristicIn(services, *ref.service, ref.uuid)
		if err != nil {
			return target{}, err
		}
		return target{char: c, known: true}, nil
	}
	c, err := gogatt.LookupCharacteristic(services, ref.uuid)
	if err != nil {
		return target{}, err
	}
	return target{char: c, known: true}, nil
}

// codec builds the value codec from the value flags.
func (a *app) codec() (value.Codec, error) {
	f, err := value.ParseFormat(a.opts.format)
	if err != nil {
		return value.Codec{}, err
	}
	be, err := value.ParseEndian(a.opts.endian)
	if err != nil {
		return value.Codec{}, err
	}
	c := value.Codec{Format: f, Int: value.IntSpec{Size: a.opts.size, Signed: a.opts.signed, BigEndian: be}}
	if f == value.FormatInt {
		if err := c.Int.Validate(); err != nil {
			return value.Codec{}, err
		}
	}
	return c, nil
}

// rendered is a value as the CLI prints it. Text is the value's own text (with --format utf8,
// the bytes as they came): text output shows it through view.Escape, --json as a JSON string.
type rendered struct {
	Text    string        `json:"text"`
	Hex     string        `json:"hex"`
	Kind    string        `json:"kind,omitempty"`
	Decoded profile.Value `json:"decoded,omitempty"`
	Error   string        `json:"decodeError,omitempty"`
}

// kind names the type of a decoded value in --json output.
func kind(v profile.Value) string {
	switch v.(type) {
	case profile.HeartRate:
		return "heart_rate"
	case profile.BatteryLevel:
		return "battery_level"
	case profile.Temperature:
		return "temperature"
	}
	return ""
}

// render formats v for characteristic uuid with codec c.
func render(c value.Codec, uuid bt.UUID, v []byte) rendered {
	r := rendered{Hex: value.Hex(v)}
	if c.Format == value.FormatAuto {
		if d, ok, err := profile.Decode(uuid, v); ok {
			if err == nil {
				r.Text, r.Kind, r.Decoded = d.String(), kind(d), d
				return r
			}
			r.Error = err.Error()
		}
		r.Text = r.Hex
		if r.Text == "" {
			r.Text = "(empty)"
		} else if t := string(v); len(v) >= 3 && view.Escape(t) == t {
			r.Text += ` ("` + t + `")` // printable text: show it too
		}
		return r
	}
	t, err := c.FormatValue(v)
	if err != nil {
		r.Text, r.Error = r.Hex, err.Error()
		return r
	}
	r.Text = t
	return r
}
