package bgapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// Request-count tests: every procedure the BGAPI backend drives uses the fewest ATT requests
// the protocol allows at ATT_MTU 23, counted on the emulated dongle (bled112.ATTRequests) over
// a real pty.

const testMTU = 23

// requestsOf returns the ATT requests the emulator sent while fn ran.
func requestsOf(t testing.TB, emu *bled112.Emulator, fn func()) (total int, byOp map[att.Opcode]int) {
	t.Helper()
	before := emu.ATTRequests()
	fn()
	byOp = map[att.Opcode]int{}
	for op, n := range emu.ATTRequests() {
		if d := int(n - before[op]); d > 0 {
			byOp[op] = d
			total += d
		}
	}
	return total, byOp
}

// discoveryMinimum is the fewest ATT requests that discover the primary services, their
// characteristics and the characteristics' descriptors of svcs at ATT_MTU mtu, computed from
// the database. A response carries as many entries as fit in ATT_MTU − 2 octets, all of one
// length or UUID format (Core v5.3 Vol 3 Part F §3.4.1.2, §3.4.3.2, §3.4.4.2, §3.4.4.10), and
// each procedure asks again after every response until a response reaches the end of its range
// or an Attribute Not Found ends it (Vol 3 Part G §4.4.1, §4.6.1, §4.7.1) — so a client
// chooses only the ranges, and may only choose them from what earlier responses told it:
//
//   - services: Read By Group Type 0x2800 over 0x0001–0xFFFF: the packed responses, plus the
//     Attribute Not Found unless the last group ends at 0xFFFF;
//   - characteristics: Read By Type 0x2803 packs declarations across service boundaries, so
//     one range per run of primary services whose handles follow each other (the client cannot
//     know what lies between runs); a declaration is followed by its value, so the range is
//     first+1 … last−1: nothing if empty, else the packed responses plus the Attribute Not
//     Found unless the last declaration is at last−1;
//   - descriptors: every handle from a value handle + 1 to the next declaration (or the
//     service end) is a descriptor, and Find Information over exactly such a range needs no
//     Attribute Not Found; adjacent ranges of one run can be merged into one range that also
//     returns the declarations and values between them, which the client knows, when that
//     packs into fewer responses: the minimum over every way of grouping consecutive ranges
//     (dynamic programming), each group costing its packed responses over the real
//     attributes.
//
// Secondary services are reached only through include declarations, which none of the demo
// devices has.
func discoveryMinimum(svcs []sim.ServiceInfo, mtu int) (services, chars, descs int) {
	// packed counts the responses that carry entries of the given sizes in order: a response
	// takes entries of one size while they fit in mtu−2 octets.
	packed := func(sizes []int) int {
		n, room, cur := 0, 0, 0
		for _, s := range sizes {
			if s != cur || room < s {
				n, room, cur = n+1, mtu-2, s
			}
			room -= s
		}
		return n
	}
	uuidLen := func(u bt.UUID) int { return len(u.AppendLE(nil)) }
	var prim []sim.ServiceInfo
	for _, s := range svcs {
		if s.Primary {
			prim = append(prim, s)
		}
	}
	var groups []int
	for _, s := range prim {
		groups = append(groups, 4+uuidLen(s.UUID))
	}
	services = packed(groups)
	if len(prim) == 0 || prim[len(prim)-1].EndHandle != 0xFFFF {
		services++
	}
	for i := 0; i < len(prim); {
		j := i
		for j+1 < len(prim) && prim[j+1].Handle == prim[j].EndHandle+1 {
			j++
		}
		run := prim[i : j+1]
		i = j + 1
		start, end := run[0].Handle, run[len(run)-1].EndHandle
		// type[h]: the entry size of attribute h in a Find Information response.
		typ := map[uint16]int{}
		var decls []int
		var lastDecl uint16
		type gap struct{ start, end uint16 }
		var gaps []gap
		for _, s := range run {
			typ[s.Handle] = 2 + 2
			for k, c := range s.Characteristics {
				decls = append(decls, 2+3+uuidLen(c.UUID))
				lastDecl = c.Handle
				typ[c.Handle], typ[c.ValueHandle] = 2+2, 2+uuidLen(c.UUID)
				for _, d := range c.Descriptors {
					typ[d.Handle] = 2 + uuidLen(d.UUID)
				}
				gend := s.EndHandle
				if k+1 < len(s.Characteristics) {
					gend = s.Characteristics[k+1].Handle - 1
				}
				if c.ValueHandle < gend {
					gaps = append(gaps, gap{c.ValueHandle + 1, gend})
				}
			}
		}
		if uint32(start)+2 <= uint32(end) {
			chars += packed(decls)
			if lastDecl != end-1 {
				chars++
			}
		}
		cost := func(a, b uint16) int {
			var sizes []int
			for h := uint32(a); h <= uint32(b); h++ {
				if sz, ok := typ[uint16(h)]; ok {
					sizes = append(sizes, sz)
				}
			}
			return packed(sizes)
		}
		best := make([]int, len(gaps)+1)
		for j := 1; j <= len(gaps); j++ {
			best[j] = -1
			for i := range j {
				if c := best[i] + cost(gaps[i].start, gaps[j-1].end); best[j] < 0 || c < best[j] {
					best[j] = c
				}
			}
		}
		descs += best[len(gaps)]
	}
	return services, chars, descs
}

// TestDiscoveryRequestsMinimal discovers each demo device's whole tree and counts the ATT
// requests against discoveryMinimum.
func TestDiscoveryRequestsMinimal(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	for _, addr := range []string{hrmAddr, thermoAddr, tortureAddr} {
		t.Run(addr, func(t *testing.T) {
			d := env.connect(t, addr, gogatt.ConnectOptions{})
			ms, mc, md := discoveryMinimum(env.periphs[addr].Services(), testMTU)
			var svcs []gogatt.Service
			total, byOp := requestsOf(t, env.emu, func() {
				var err error
				if svcs, err = d.Services(ctxT(t, 30*time.Second)); err != nil {
					t.Fatal(err)
				}
			})
			gs, gc, gd := byOp[att.OpReadByGroupTypeReq], byOp[att.OpReadByTypeReq], byOp[att.OpFindInformationReq]
			t.Logf("%d discovery requests (services %d, characteristics %d, descriptors %d); minimum %d (%d, %d, %d)",
				gs+gc+gd, gs, gc, gd, ms+mc+md, ms, mc, md)
			if gs != ms || gc != mc || gd != md {
				t.Errorf("discovery used %d requests %v, want the minimum %d (services %d, characteristics %d, descriptors %d)",
					total, byOp, ms+mc+md, ms, mc, md)
			}
			if got, want := treeOf(svcs), dbTree(env.periphs[addr].Services()); got != want {
				t.Errorf("discovered tree:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// dbTree and treeOf print a tree as discovery finds it: services, characteristics (handles,
// properties) and descriptors (handle, UUID).
func dbTree(svcs []sim.ServiceInfo) string {
	var b strings.Builder
	for _, s := range svcs {
		if !s.Primary {
			continue
		}
		fmt.Fprintf(&b, "service %v %04x-%04x\n", s.UUID, s.Handle, s.EndHandle)
		for _, c := range s.Characteristics {
			fmt.Fprintf(&b, "  char %v %04x %04x %02x\n", c.UUID, c.Handle, c.ValueHandle, uint8(c.Properties))
			for _, d := range c.Descriptors {
				fmt.Fprintf(&b, "    desc %v %04x\n", d.UUID, d.Handle)
			}
		}
	}
	return b.String()
}

func treeOf(svcs []gogatt.Service) string {
	var b strings.Builder
	for _, s := range svcs {
		fmt.Fprintf(&b, "service %v %04x-%04x\n", s.UUID, s.Handle, s.EndHandle)
		for _, c := range s.Characteristics {
			fmt.Fprintf(&b, "  char %v %04x %04x %02x\n", c.UUID, c.Handle, c.ValueHandle, uint8(c.Properties))
			for _, d := range c.Descriptors {
				fmt.Fprintf(&b, "    desc %v %04x\n", d.UUID, d.Handle)
			}
		}
	}
	return b.String()
}

// TestLongReadWriteRequests: a long read of len octets takes the Read plus
// ceil((len − (MTU−1)) / (MTU−1)) Read Blob requests; a long write
// ceil(len / (MTU−5)) Prepare Write requests plus the Execute Write (Core v5.3 Vol 3 Part G
// §4.8.3, §4.9.4).
func TestLongReadWriteRequests(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	p := env.periphs[tortureAddr]
	ceil := func(a, b int) int { return max(0, (a+b-1)/b) }
	for _, u := range []gogatt.UUID{sim.TortureLong, sim.TortureMax, sim.TortureMaxLen} {
		h := p.ValueHandle(u)
		ln := len(p.Value(h))
		var got []byte
		n, _ := requestsOf(t, env.emu, func() {
			var err error
			if got, err = d.CharReadLongHandle(ctxT(t, 10*time.Second), h); err != nil {
				t.Fatal(err)
			}
		})
		if !bytes.Equal(got, p.Value(h)) {
			t.Fatalf("read long of %d octets: got %d", ln, len(got))
		}
		if want := ceil(ln-(testMTU-1), testMTU-1) + 1; n != want {
			t.Errorf("read long of %d octets: %d requests, want %d", ln, n, want)
		}
	}
	for _, ln := range []int{1, 18, 19, 300, 512} {
		h := p.ValueHandle(sim.TortureMax)
		v := bytes.Repeat([]byte{byte(ln)}, ln)
		n, byOp := requestsOf(t, env.emu, func() {
			if err := d.CharWriteLongHandle(ctxT(t, 10*time.Second), h, v); err != nil {
				t.Fatal(err)
			}
		})
		if want := ceil(ln, testMTU-5) + 1; n != want || byOp[att.OpExecuteWriteReq] != 1 {
			t.Errorf("write long of %d octets: %d requests %v, want %d", ln, n, byOp, want)
		}
		if !bytes.Equal(p.Value(h), v) {
			t.Errorf("write long of %d octets not stored", ln)
		}
	}
}

// BenchmarkDiscoveryModelledLink discovers the torture device's tree on the emulator's
// LinkModel: every PDU in either direction takes one of PacketsPerEvent slots per connection
// event, and ATT allows one request outstanding (Core v5.3 Vol 3 Part F §3.3.2), so the floor is
// ceil(2 × requests / PacketsPerEvent) × ConnInterval. Reports requests/op, the floor and the
// ratio of the measured time to it.
func BenchmarkDiscoveryModelledLink(b *testing.B) {
	for _, lm := range []bled112.LinkModel{{ConnInterval: 7500 * time.Microsecond, PacketsPerEvent: 4}, {ConnInterval: 7500 * time.Microsecond, PacketsPerEvent: 1}} {
		b.Run(fmt.Sprintf("interval=%v/per-event=%d", lm.ConnInterval, lm.PacketsPerEvent), func(b *testing.B) {
			env := startEmu(b, bled112.Config{Link: &lm}, Config{NoReset: true})
			d := env.rawLink(b, tortureAddr)
			ctx := context.Background()
			var reqs int
			for b.Loop() {
				n, byOp := requestsOf(b, env.emu, func() {
					if _, err := d.Discover(ctx); err != nil {
						b.Fatal(err)
					}
				})
				reqs += n - byOp[att.OpWriteReq]
			}
			perOp := float64(reqs) / float64(b.N)
			floor := math.Ceil(2*perOp/float64(lm.PacketsPerEvent)) * lm.ConnInterval.Seconds() * 1e3
			ms := b.Elapsed().Seconds() * 1e3 / float64(b.N)
			b.ReportMetric(perOp, "requests/op")
			b.ReportMetric(ms, "ms/op")
			b.ReportMetric(floor, "floor-ms/op")
			b.ReportMetric(ms/floor, "time/floor")
		})
	}
}

// TestEndedContextSendsNothing: an operation whose context has already ended fails with the
// context's error and sends no ATT request, even when nothing else is waiting (a select between
// a free slot and a done context picks at random; the contract's ResubscribeFailure failed so).
func TestEndedContextSendsNothing(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d, err := env.b.Connect(ctxT(t, 10*time.Second), hrmAddr, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Disconnect() })
	h := env.periphs[hrmAddr].ValueHandle(gogatt.UUID16(0x2A38))
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	n, _ := requestsOf(t, env.emu, func() {
		for range 256 {
			if _, err := d.CharReadHandle(dead, h); !errors.Is(err, context.Canceled) {
				t.Fatalf("read with an ended context = %v, want context.Canceled", err)
			}
			if err := d.CharWriteHandle(dead, h, []byte{1}, false); !errors.Is(err, context.Canceled) {
				t.Fatalf("write command with an ended context = %v, want context.Canceled", err)
			}
		}
		// One read that succeeds: the emulator has handled every command sent before it.
		if _, err := d.CharReadHandle(ctxT(t, 10*time.Second), h); err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 {
		t.Errorf("%d ATT requests sent with an ended context", n-1)
	}
}
