package bgapi

import (
	"context"
	"testing"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// FuzzReader feeds arbitrary device output to the client's reader path (resynchronising parser,
// response matching, event routing and every payload decoder) with a pending command, a
// connection in each kind of procedure, a bonding, a connect attempt and a scan in progress:
// nothing may panic, whatever the bytes.
func FuzzReader(f *testing.F) {
	seeds := [][]byte{
		// docs/bgapi-protocol.md §Worked frames, and more
		{0x80, 0x10, 0x03, 0x00, 0x00, 0x05, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x00, 0x3C, 0x00, 0x64, 0x00, 0x00, 0x00, 0xFF},
		{0x80, 0x07, 0x04, 0x05, 0x00, 0x12, 0x00, 0x01, 0x02, 0x01, 0x02},
		{0x80, 0x05, 0x04, 0x01, 0x00, 0x01, 0x04, 0x12, 0x00},
		{0x80, 0x03, 0x03, 0x04, 0x00, 0x13, 0x02},
		{0x80, 0x0E, 0x06, 0x00, 0xC4, 0x00, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x00, 0xFF, 0x03, 0x02, 0x01, 0x06},
		{0x00, 0x03, 0x04, 0x04, 0x00, 0x00, 0x00},
		{0x80, 0x08, 0x04, 0x02, 0x00, 0x01, 0x00, 0x05, 0x00, 0x02, 0x00, 0x18},
		{0x80, 0x06, 0x04, 0x04, 0x00, 0x03, 0x00, 0x02, 0x02, 0x29},
		{0x80, 0x03, 0x05, 0x01, 0x00, 0x05, 0x03},
		{0x80, 0x01, 0x05, 0x03, 0x00},
		{0x80, 0x05, 0x05, 0x02, 0x00, 0x40, 0xE2, 0x01, 0x00},
		{0xFF, 0x80, 0x00, 0x00, 0x80},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &client{log: discardLogger(), conns: map[uint8]*conn{}, bonds: map[bt.Address]uint8{}, closed: make(chan struct{}), cmdTimeout: 1}
		c.stopCtx, c.cancel = context.WithCancel(context.Background())
		defer c.cancel()
		c.passkey = func(context.Context, string) (uint32, error) { return 0, context.Canceled }
		kinds := []procKind{pkRead, pkReadLong, pkGroups, pkTypes, pkInfo, pkWrite}
		for i, k := range kinds {
			reg := gattkit.NewRegistry()
			defer reg.Stop()
			cn := newConn(c, uint8(i), bt.Address{1, 2, 3, 4, 5, byte(i)}, reg.Dispatch)
			cn.proc = newProc(k, "fuzz", 0x12)
			cn.proc.started = true
			cn.bond = &bondWait{ctx: context.Background(), done: make(chan struct{})}
			reg.Add(0x12, func(uint16, []byte) {}, gogatt.SubscribeOptions{})
			c.conns[uint8(i)] = cn
		}
		c.connecting = &connectWait{addr: bt.AddressFromLE([6]byte{0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA}), handle: -1, done: make(chan struct{})}
		c.scan = newScanSink()
		c.pending = &pendingCmd{class: 4, id: 4, name: "attclient_read_by_handle", ch: make(chan []byte, 1), onResp: func([]byte) {}}
		p := wire.NewParser(wire.DecoderConfig{})
		p.Feed(data)
		for {
			fr, ok := p.Next()
			if !ok {
				if !p.Abandon() {
					break
				}
				continue
			}
			if fr.Event {
				c.handleEvent(fr)
			} else {
				c.handleResponse(fr)
			}
		}
		c.fail(gogatt.ErrNotStarted)
		c.wg.Wait()
	})
}
