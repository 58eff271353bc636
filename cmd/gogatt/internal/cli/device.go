package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/value"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
	"github.com/gogatt/gogatt/gatt"
)

// connectFor connects for a command and pairs first when --bond is given.
func (a *app) connectFor(ctx context.Context, address string) (*session, error) {
	s, err := a.connect(ctx, address)
	if err != nil {
		return nil, err
	}
	if a.opts.bond {
		if err := a.pair(ctx, s, true); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// pair pairs with the connected device, bonding when permanent, within one --timeout.
func (a *app) pair(ctx context.Context, s *session, permanent bool) error {
	bctx, cancel := a.withTimeout(ctx)
	defer cancel()
	if err := s.dev.Bond(bctx, permanent); err != nil {
		return fmt.Errorf("pairing with %s: %w", s.dev.Address(), err)
	}
	return nil
}

// charSession is a connection opened for a command on one characteristic.
type charSession struct {
	s *session
	t target
	// ctx is bounded by one --timeout, started before resolving t; the command's operation on
	// t goes on using it.
	ctx    context.Context
	cancel context.CancelFunc
}

// openChar connects for a command (pairing first with --bond, see connectFor) and resolves ref
// on the device. The caller must call done.
func (a *app) openChar(ctx context.Context, address string, ref charRef) (*charSession, error) {
	s, err := a.connectFor(ctx, address)
	if err != nil {
		return nil, err
	}
	octx, cancel := a.withTimeout(ctx)
	t, err := resolve(octx, s.dev, ref)
	if err != nil {
		cancel()
		s.close()
		return nil, err
	}
	return &charSession{s: s, t: t, ctx: octx, cancel: cancel}, nil
}

// done releases the timeout and disconnects.
func (c *charSession) done() {
	c.cancel()
	c.s.close()
}

func runServices(ctx context.Context, a *app, args []string) error {
	s, err := a.connectFor(ctx, args[0])
	if err != nil {
		return err
	}
	defer s.close()
	dctx, cancel := a.withTimeout(ctx)
	defer cancel()
	services, err := s.dev.Services(dctx)
	if err != nil {
		return fmt.Errorf("discovering services of %s: %w", s.dev.Address(), err)
	}
	if a.g.json {
		a.emit(struct {
			Address  string             `json:"address"`
			Services []view.JSONService `json:"services"`
		}{s.dev.Address(), view.TreeJSON(services)})
		return nil
	}
	a.printf("%s: %s\n", s.dev.Address(), view.TreeSummary(services))
	for _, l := range view.Tree(services) {
		a.printf("%s\n", l)
	}
	return nil
}

// defaultATTMTU is ATT_MTU before any exchange (Core v5.3 Vol 3 Part F §3.2.8); BGAPI 1.x
// never exchanges it.
const defaultATTMTU = 23

// valueOut is the JSON of a value read or received.
type valueOut struct {
	Address string `json:"address"`
	Handle  uint16 `json:"handle"`
	UUID    string `json:"uuid,omitempty"`
	Name    string `json:"name,omitempty"`
	rendered
}

func newValueOut(address string, t target, r rendered) valueOut {
	o := valueOut{Address: address, Handle: t.char.ValueHandle, rendered: r}
	if t.char.UUID != (gogatt.UUID{}) {
		o.UUID, o.Name = t.char.UUID.String(), gatt.Name(t.char.UUID)
	}
	return o
}

// prepare parses CHAR and the value flags before anything touches the adapter.
func (a *app) prepare(char string) (charRef, value.Codec, error) {
	ref, err := parseCharRef(char)
	if err != nil {
		return ref, value.Codec{}, usageErr{err}
	}
	c, err := a.codec()
	if err != nil {
		return ref, c, usageErr{err}
	}
	return ref, c, nil
}

func runRead(ctx context.Context, a *app, args []string) error {
	ref, codec, err := a.prepare(args[1])
	if err != nil {
		return err
	}
	cs, err := a.openChar(ctx, args[0], ref)
	if err != nil {
		return err
	}
	defer cs.done()
	s, t, octx := cs.s, cs.t, cs.ctx
	var v []byte
	if a.opts.long {
		v, err = s.dev.CharReadLongHandle(octx, t.char.ValueHandle)
	} else {
		v, err = s.dev.CharReadHandle(octx, t.char.ValueHandle)
	}
	if err != nil {
		return &opError{op: "read", address: s.dev.Address(), char: args[1], t: t, long: a.opts.long, err: err}
	}
	r := render(codec, t.uuid(), v)
	if a.g.json {
		a.emit(newValueOut(s.dev.Address(), t, r))
		return nil
	}
	a.printf("%s\n", view.Escape(r.Text))
	if r.Error != "" {
		fmt.Fprintf(a.env.Stderr, "gogatt read: note: %s\n", r.Error)
	}
	if !a.opts.long && len(v) == defaultATTMTU-1 {
		fmt.Fprintf(a.env.Stderr, "gogatt read: note: %d bytes is all one ATT Read returns: the value may be longer (add --long)\n", len(v))
	}
	return nil
}

func runWrite(ctx context.Context, a *app, args []string) error {
	ref, codec, err := a.prepare(args[1])
	if err != nil {
		return err
	}
	data, err := codec.Parse(args[2])
	if err != nil {
		return usageErr{err}
	}
	if len(data) > 512 {
		return usagef("value of %d bytes: an attribute holds at most 512 (Core v5.3 Vol 3 Part F §3.2.9)", len(data))
	}
	cs, err := a.openChar(ctx, args[0], ref)
	if err != nil {
		return err
	}
	defer cs.done()
	s, t, octx := cs.s, cs.t, cs.ctx
	withResponse := !a.opts.noResponse
	if t.known && withResponse && t.char.Properties&gogatt.PropWrite == 0 && t.char.Properties&gogatt.PropWriteWithoutResponse != 0 {
		withResponse = false // the characteristic only takes Write Commands
		a.log.Debug("characteristic has no write property: using a Write Command", "char", t.label())
	}
	switch {
	case a.opts.long:
		err = s.dev.CharWriteLongHandle(octx, t.char.ValueHandle, data)
	default:
		err = s.dev.CharWriteHandle(octx, t.char.ValueHandle, data, withResponse)
	}
	if err != nil {
		return &opError{op: "write", address: s.dev.Address(), char: args[1], t: t, size: len(data), long: a.opts.long, noResp: !withResponse, err: err}
	}
	if a.g.json {
		// The value as read would show it (--format auto writes hex, and shows it decoded).
		out := newValueOut(s.dev.Address(), t, render(codec, t.uuid(), data))
		a.emit(struct {
			valueOut
			WithResponse bool `json:"withResponse"`
			Long         bool `json:"long,omitempty"`
		}{out, withResponse || a.opts.long, a.opts.long})
		return nil
	}
	kind := "acknowledged"
	if !withResponse && !a.opts.long {
		kind = "unacknowledged"
	}
	a.printf("wrote %d byte(s) %s to %s (%s)\n", len(data), value.Hex(data), t.label(), kind)
	return nil
}

// streamSummary is what a subscription received.
type streamSummary struct {
	Count      uint64  `json:"count"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"ratePerSecond"`
	Lost       *uint64 `json:"lost,omitempty"`
	OutOfOrder *uint64 `json:"outOfOrder,omitempty"`
	Duplicates *uint64 `json:"duplicates,omitempty"`
	Reason     string  `json:"end"` // "count", "duration", "interrupted", "disconnected"
}

// String is the summary line printed when a stream ends.
func (s streamSummary) String() string {
	str := fmt.Sprintf("%d value(s) in %.2fs (%.1f/s)", s.Count, s.Seconds, s.Rate)
	if s.Lost != nil {
		str += fmt.Sprintf(", lost %d, out of order %d, duplicates %d", *s.Lost, *s.OutOfOrder, *s.Duplicates)
	}
	return str
}

type arrival struct {
	at time.Time
	v  []byte
}

// streamSpec is what app.stream subscribes to and how long it streams.
type streamSpec struct {
	t        target
	char     string // CHAR as typed, for error hints
	indicate bool
	seq      bool
	count    int
	dur      time.Duration
}

// stream subscribes to sp.t, calls subscribed once the subscription is in place, then each for
// every value, in order, on this goroutine, until ctx ends (Ctrl-C), sp.count values arrived,
// sp.dur elapsed, or the link drops. It always unsubscribes (when the link is up) before
// returning. A failure to subscribe is an *opError, and no summary (Reason "").
func (a *app) stream(ctx context.Context, dev gogatt.Device, sp streamSpec, subscribed func(), each func(arrival, uint64)) (streamSummary, error) {
	t, indicate, seq, count, dur := sp.t, sp.indicate, sp.seq, sp.count, sp.dur
	if t.known && !indicate && t.char.Properties&gogatt.PropNotify == 0 && t.char.Properties&gogatt.PropIndicate != 0 {
		indicate = true // the characteristic only indicates
	}
	values := make(chan arrival, 1024)
	done := make(chan struct{})
	handler := func(_ uint16, v []byte) {
		select {
		case values <- arrival{a.now(), v}:
		case <-done:
		}
	}
	sctx, cancel := a.withTimeout(ctx)
	err := dev.SubscribeHandle(sctx, t.char.ValueHandle, handler, gogatt.SubscribeOptions{Indication: indicate})
	cancel()
	if err != nil {
		close(done)
		return streamSummary{}, &opError{op: "subscribe", address: dev.Address(), char: sp.char, t: t, err: err}
	}
	if subscribed != nil {
		subscribed()
	}
	start := a.now()
	var timer <-chan time.Time
	if dur > 0 {
		tm := time.NewTimer(dur)
		defer tm.Stop()
		timer = tm.C
	}
	var sc value.SeqCounter
	sum := streamSummary{}
	var end error
loop:
	for {
		select {
		case v := <-values:
			sum.Count++
			if seq {
				sc.Observe(v.v)
			}
			each(v, sum.Count)
			if count > 0 && sum.Count >= uint64(count) {
				sum.Reason = "count"
				break loop
			}
		case <-timer:
			sum.Reason = "duration"
			break loop
		case <-ctx.Done():
			sum.Reason = "interrupted"
			break loop
		case <-dev.Disconnected():
			sum.Reason = "disconnected"
			end = dev.Err()
			if end == nil {
				end = gogatt.ErrNotConnected
			}
			break loop
		}
	}
	elapsed := a.now().Sub(start)
	close(done)
	if end == nil {
		// Unsubscribe with a fresh deadline: ctx may be cancelled by Ctrl-C.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.g.timeout)
		if err := dev.UnsubscribeHandle(uctx, t.char.ValueHandle); err != nil && !errors.Is(err, gogatt.ErrNotConnected) {
			a.log.Debug("unsubscribing", "err", err)
		}
		cancel()
	}
	sum.Seconds = elapsed.Seconds()
	if sum.Seconds > 0 {
		sum.Rate = float64(sum.Count) / sum.Seconds
	}
	if seq {
		lost, ooo, dup := sc.Lost(), sc.OutOfOrder, sc.Duplicates
		sum.Lost, sum.OutOfOrder, sum.Duplicates = &lost, &ooo, &dup
	}
	return sum, end
}

func runSubscribe(ctx context.Context, a *app, args []string) error {
	ref, codec, err := a.prepare(args[1])
	if err != nil {
		return err
	}
	if a.opts.count < 0 || a.opts.duration < 0 {
		return usagef("--count and --duration must not be negative")
	}
	cs, err := a.openChar(ctx, args[0], ref)
	if err != nil {
		return err
	}
	defer cs.done()
	cs.cancel() // the stream has no overall deadline
	s, t := cs.s, cs.t
	addr := s.dev.Address()
	sp := streamSpec{t: t, char: args[1], indicate: a.opts.indicate, seq: a.opts.seq, count: a.opts.count, dur: a.opts.duration}
	subscribed := func() {
		if !a.g.json {
			fmt.Fprintf(a.env.Stderr, "Subscribed to %s on %s; Ctrl-C to stop.\n", t.label(), addr)
		}
	}
	sum, err := a.stream(ctx, s.dev, sp, subscribed, func(v arrival, n uint64) {
		r := render(codec, t.uuid(), v.v)
		if a.g.json {
			out := struct {
				Time string  `json:"time"`
				Seq  *uint32 `json:"seq,omitempty"`
				valueOut
			}{Time: v.at.UTC().Format(time.RFC3339Nano), valueOut: newValueOut(addr, t, r)}
			if sq, ok := value.SeqOf(v.v); ok && a.opts.seq {
				out.Seq = &sq
			}
			a.emit(out)
			return
		}
		if sq, ok := value.SeqOf(v.v); ok && a.opts.seq {
			a.printf("%s  #%-8d %s\n", v.at.Format("15:04:05.000"), sq, view.Escape(r.Text))
			return
		}
		a.printf("%s  %s\n", v.at.Format("15:04:05.000"), view.Escape(r.Text))
	})
	if sum.Reason == "interrupted" {
		a.overwriteCtrlC()
	}
	if sum.Reason != "" {
		if a.g.json {
			a.emit(struct {
				Summary streamSummary `json:"summary"`
			}{sum})
		} else {
			a.printf("%s\n", sum)
		}
	}
	return err
}

func runBond(ctx context.Context, a *app, args []string) error {
	s, err := a.connect(ctx, args[0])
	if err != nil {
		return err
	}
	defer s.close()
	if err := a.pair(ctx, s, !a.opts.temporary); err != nil {
		return err
	}
	if a.g.json {
		a.emit(map[string]any{"address": s.dev.Address(), "bonded": true, "permanent": !a.opts.temporary})
		return nil
	}
	if a.opts.temporary {
		a.printf("paired with %s (for this connection only)\n", s.dev.Address())
	} else {
		a.printf("bonded with %s\n", s.dev.Address())
	}
	return nil
}

func runClearBond(ctx context.Context, a *app, args []string) error {
	addr := ""
	switch {
	case len(args) == 1 && a.opts.all:
		return usagef("give an ADDRESS or --all, not both")
	case len(args) == 1:
		ad, err := gogatt.ParseAddress(args[0])
		if err != nil {
			return usageErr{err}
		}
		addr = ad.String()
		a.peer = addr
	case !a.opts.all:
		return usagef("give the ADDRESS of the bond to remove, or --all to remove every bond")
	}
	b, stop, err := a.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	cctx, cancel := a.withTimeout(ctx)
	defer cancel()
	if err := b.ClearBond(cctx, addr); err != nil {
		return fmt.Errorf("clearing bonds: %w", err)
	}
	switch {
	case a.g.json:
		cleared := addr
		if cleared == "" {
			cleared = "all"
		}
		a.emit(map[string]any{"cleared": cleared})
	case addr == "":
		a.printf("removed every bond\n")
	default:
		a.printf("removed the bond with %s\n", addr)
	}
	return nil
}

// rssiSummary is what `rssi --watch` measured.
type rssiSummary struct {
	Count   int     `json:"count"`
	Seconds float64 `json:"seconds"`
	Min     int     `json:"min"`  // dBm
	Max     int     `json:"max"`  // dBm
	Mean    float64 `json:"mean"` // dBm
	Reason  string  `json:"end"`  // "count", "interrupted", "disconnected"
	sum     int
}

func (s *rssiSummary) add(rssi int) {
	if s.Count == 0 || rssi < s.Min {
		s.Min = rssi
	}
	if s.Count == 0 || rssi > s.Max {
		s.Max = rssi
	}
	s.Count++
	s.sum += rssi
	s.Mean = float64(s.sum) / float64(s.Count)
}

// String is the summary line printed when `rssi --watch` ends.
func (s rssiSummary) String() string {
	return fmt.Sprintf("%d measurement(s) in %.2fs: min %d, mean %.1f, max %d dBm", s.Count, s.Seconds, s.Min, s.Mean, s.Max)
}

func runRSSI(ctx context.Context, a *app, args []string) error {
	if a.opts.interval <= 0 {
		return usagef("--interval must be positive")
	}
	s, err := a.connect(ctx, args[0])
	if err != nil {
		return err
	}
	defer s.close()
	var sum rssiSummary
	start := a.now()
	// end closes a --watch stream with its summary, like subscribe's: on a terminal after
	// Ctrl-C it starts over the echoed ^C, and it ends the line, so the prompt comes back clean.
	end := func(reason string, err error) error {
		sum.Reason, sum.Seconds = reason, a.now().Sub(start).Seconds()
		if reason == "interrupted" {
			a.overwriteCtrlC()
		}
		if a.g.json {
			a.emit(struct {
				Summary rssiSummary `json:"summary"`
			}{sum})
		} else {
			a.printf("%s\n", sum)
		}
		return err
	}
	var tick *time.Ticker
	for n := 1; ; n++ {
		rctx, cancel := a.withTimeout(ctx)
		rssi, err := s.dev.RSSI(rctx)
		cancel()
		if err != nil {
			err = fmt.Errorf("reading the RSSI of %s: %w", s.dev.Address(), err)
			switch {
			case !a.opts.watch || n == 1:
				return err
			case ctx.Err() != nil:
				return end("interrupted", nil)
			case errors.Is(err, gogatt.ErrNotConnected):
				return end("disconnected", err)
			}
			return err
		}
		sum.add(rssi)
		if a.g.json {
			a.emit(map[string]any{"address": s.dev.Address(), "rssi": rssi, "time": a.now().UTC().Format(time.RFC3339Nano)})
		} else if a.opts.watch {
			a.printf("%s  %d dBm\n", a.now().Format("15:04:05.000"), rssi)
		} else {
			a.printf("%d dBm\n", rssi)
		}
		if !a.opts.watch {
			return nil
		}
		if a.opts.count > 0 && n >= a.opts.count {
			return end("count", nil)
		}
		if tick == nil {
			tick = time.NewTicker(a.opts.interval)
			defer tick.Stop()
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return end("interrupted", nil)
		case <-s.dev.Disconnected():
			err := s.dev.Err()
			if err == nil {
				err = gogatt.ErrNotConnected
			}
			return end("disconnected", err)
		}
	}
}
