package gattkit

import (
	"context"
	"fmt"
	"slices"

	"github.com/gogatt/gogatt"
)

// skeletonOf returns the services and characteristic declarations of s (no descriptors): one
// discovery of the primary services and one of the declarations over the range of all of them,
// which takes fewer requests than one per service (a Read By Type Response holds as many
// declarations as fit, whichever service they belong to).
func skeletonOf(ctx context.Context, s Stepwise) ([]gogatt.Service, error) {
	svcs, err := s.PrimaryServices(ctx)
	if err != nil || len(svcs) == 0 {
		return svcs, err
	}
	start, end := uint16(0xFFFF), uint16(0)
	for _, sv := range svcs {
		start, end = min(start, sv.Handle), max(end, sv.EndHandle)
	}
	// A characteristic declaration is followed by its value within its service (Core v5.3
	// Vol 3 Part G §3.3): none is at a service's first or last handle.
	var decls []gogatt.Characteristic
	if uint32(start)+2 <= uint32(end) {
		if decls, err = s.Declarations(ctx, start+1, end-1); err != nil {
			return nil, err
		}
	}
	return BuildTree(svcs, decls, nil), nil
}

// BuildTree assembles a tree from the results of the three discovery procedures, in any order:
// each declaration goes to the service whose range holds it, with EndHandle the handle before
// the next declaration in that service (or the service's end), and each descriptor to the
// characteristic whose value handle is below it and whose end is not (Core v5.3 Vol 3 Part G
// §4.7.1), so a characteristic's CCCD is its real one. Attributes of descs that are not
// descriptors (a whole-range listing includes declarations and values) fall outside every such
// range or are dropped.
func BuildTree(svcs []gogatt.Service, decls []gogatt.Characteristic, descs []gogatt.Descriptor) []gogatt.Service {
	svcs = slices.Clone(svcs)
	slices.SortFunc(svcs, func(a, b gogatt.Service) int { return int(a.Handle) - int(b.Handle) })
	decls = slices.Clone(decls)
	slices.SortFunc(decls, func(a, b gogatt.Characteristic) int { return int(a.Handle) - int(b.Handle) })
	descs = slices.Clone(descs)
	slices.SortFunc(descs, func(a, b gogatt.Descriptor) int { return int(a.Handle) - int(b.Handle) })
	for i := range svcs {
		sv := &svcs[i]
		var chars []gogatt.Characteristic
		for _, c := range decls {
			if c.Handle > sv.Handle && c.Handle <= sv.EndHandle {
				c.Descriptors = nil
				chars = append(chars, c)
			}
		}
		for j := range chars {
			c := &chars[j]
			c.EndHandle = sv.EndHandle
			if j+1 < len(chars) {
				c.EndHandle = chars[j+1].Handle - 1
			}
			c.EndHandle = max(c.EndHandle, c.ValueHandle)
			for _, d := range descs {
				if d.Handle > c.ValueHandle && d.Handle <= c.EndHandle && !isDeclarationType(d.UUID) {
					c.Descriptors = append(c.Descriptors, d)
				}
			}
		}
		sv.Characteristics = chars
	}
	return svcs
}

// isDeclarationType reports the types of service, include and characteristic declarations
// (0x2800–0x2803, Core v5.3 Vol 3 Part G §3), which a whole-range descriptor listing contains.
func isDeclarationType(u gogatt.UUID) bool {
	v, ok := u.Is16()
	return ok && v >= 0x2800 && v <= 0x2803
}

// descriptorsOf discovers the descriptors of c: those between its value handle and its end
// (Core v5.3 Vol 3 Part G §4.7.1); none without asking when there is no room for one.
func descriptorsOf(ctx context.Context, s Stepwise, c gogatt.Characteristic) ([]gogatt.Descriptor, error) {
	if c.ValueHandle >= c.EndHandle {
		return nil, nil
	}
	return s.Descriptors(ctx, c.ValueHandle+1, c.EndHandle)
}

// fillDescriptors completes skeleton sk with descriptors, taking those already known from
// known (by value handle).
func fillDescriptors(ctx context.Context, s Stepwise, sk []gogatt.Service, known map[uint16][]gogatt.Descriptor) ([]gogatt.Service, error) {
	out := make([]gogatt.Service, len(sk))
	for i, sv := range sk {
		sv.Characteristics = slices.Clone(sv.Characteristics)
		for j := range sv.Characteristics {
			c := &sv.Characteristics[j]
			if ds, ok := known[c.ValueHandle]; ok {
				c.Descriptors = ds
				continue
			}
			ds, err := descriptorsOf(ctx, s, *c)
			if err != nil {
				return nil, err
			}
			c.Descriptors = ds
		}
		out[i] = sv
	}
	return out, nil
}

// byValueHandle finds the characteristic of value handle h in a tree or skeleton.
func byValueHandle(svcs []gogatt.Service, h uint16) (gogatt.Characteristic, error) {
	for _, sv := range svcs {
		for _, c := range sv.Characteristics {
			if c.ValueHandle == h {
				return c, nil
			}
		}
	}
	return gogatt.Characteristic{}, fmt.Errorf("characteristic with value handle 0x%04x: %w", h, gogatt.ErrNotFound)
}
