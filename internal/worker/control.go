package worker

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/fabric-run/fabric/internal/wire"
)

// Heartbeat returns the node's current state as a heartbeat, with the load
// of the last sample.
func (w *Worker) Heartbeat() *wire.Heartbeat {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sample
	return &wire.Heartbeat{
		Node:         w.cfg.Name,
		Instance:     w.instance,
		Hostname:     w.cfg.Hostname,
		OS:           w.cfg.OS,
		Arch:         w.cfg.Arch,
		Capabilities: w.caps,
		CPUPercent:   s.CPUPercent,
		MemPercent:   s.MemPercent,
		Load1:        s.Load1,
		Load5:        s.Load5,
		Load15:       s.Load15,
		CPUs:         s.CPUs,
		Running:      w.res.used,
		Tasks:        w.taskIDsLocked(),
		GPUs:         len(w.res.gpus),
		GPUsFree:     w.res.freeGPUs(),
		Full:         w.res.full(),
		Slots:        w.cfg.Slots,
		State:        w.state,
		Version:      w.cfg.Version,
		Time:         time.Now(),
		Interval:     wire.Duration(max(w.cfg.HeartbeatInterval, 0)),
	}
}

// PublishHeartbeat publishes the node's current state on its heartbeat
// subject. While the connection is down (or not up yet) it publishes
// nothing: a heartbeat queued then would arrive stale, and the node sends a
// fresh one as soon as it reconnects.
func (w *Worker) PublishHeartbeat() error {
	if !w.nc.IsConnected() {
		return nil
	}
	subj, err := w.subj.Heartbeat(w.cfg.Name)
	if err != nil {
		return err
	}
	msg, err := wire.NewMsg(subj, w.Heartbeat())
	if err != nil {
		return err
	}
	return w.nc.PublishMsg(msg)
}

// Kick asks the heartbeat loop to sample and publish now (after a
// reconnect, say). It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// heartbeatLoop samples the load and publishes a heartbeat every interval,
// with ±10% jitter so nodes do not fire in step.
func (w *Worker) heartbeatLoop() {
	defer w.loops.Done()
	t := time.NewTimer(jitter(w.cfg.HeartbeatInterval))
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		s := w.cfg.Load.Sample()
		w.mu.Lock()
		w.sample = s
		w.mu.Unlock()
		if err := w.PublishHeartbeat(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			w.log.Warn("heartbeat", "err", err)
		}
		t.Reset(jitter(w.cfg.HeartbeatInterval))
	}
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}

// handlePing answers a ping with the node's heartbeat: to the requester if
// it gave a reply subject (msgpack to fabric, JSON to people), else on the
// heartbeat subject.
func (w *Worker) handlePing(req micro.Request) {
	if req.Reply() == "" {
		if err := w.PublishHeartbeat(); err != nil {
			w.log.Warn("ping heartbeat", "err", err)
		}
		return
	}
	format := wire.FormatJSON
	if micro.Headers(req.Headers()).Get(wire.HeaderContentType) == wire.ContentTypeMsgpack {
		format = wire.FormatMsgpack
	}
	w.send(req.Reply(), format, w.Heartbeat())
}

// handleCancel cancels a running task. The body is a msgpack or JSON Cancel,
// or plain text that is the task id.
func (w *Worker) handleCancel(req micro.Request) {
	msg := &nats.Msg{Header: nats.Header(req.Headers()), Data: req.Data()}
	format := wire.FormatOf(msg)
	var c wire.Cancel
	if format == wire.FormatPlain {
		c.ID = strings.TrimSpace(string(req.Data()))
	} else if err := wire.Decode(msg, &c); err != nil {
		w.refuse(req, format, &wire.Ack{Node: w.cfg.Name, Status: wire.AckRejected, Error: wire.ErrBadRequest, Reason: err.Error()}, "400")
		return
	}
	w.mu.Lock()
	j := w.running[c.ID]
	if j != nil && c.Offer != "" && j.offer != c.Offer {
		j = nil // a cancel of an earlier offer: the task running came in a later one
	}
	if j == nil {
		w.rememberCancelLocked(tombstone{c.ID, c.Offer})
	}
	w.mu.Unlock()
	if j == nil {
		w.refuse(req, format, &wire.Ack{ID: c.ID, Node: w.cfg.Name, Status: wire.AckRejected, Error: wire.ErrRejected,
			Reason: "no task " + c.ID + " is running on node " + w.cfg.Name}, "404")
		return
	}
	reason := c.Reason
	if reason == "" {
		reason = "cancelled by request"
	}
	j.cancel(errors.New(reason))
	w.log.Info("task cancelled", "id", c.ID, "reason", reason)
	if req.Reply() != "" {
		w.send(req.Reply(), format, &wire.Ack{ID: c.ID, Node: w.cfg.Name, Instance: w.instance, Status: wire.AckAccepted, Reason: reason})
	}
}

// cancelMemory is how long a cancel for a task the node has not seen is
// remembered: a front end that gave up waiting for an ack cancels the task,
// and the cancel may be handled before the task itself.
const cancelMemory = time.Minute

// tombstone is a cancel that came before its task: of one offer of it, or of
// every offer when offer is "".
type tombstone struct{ id, offer string }

// rememberCancelLocked notes a cancel for an unknown task. w.mu is held.
func (w *Worker) rememberCancelLocked(id tombstone) {
	now := time.Now()
	for k, at := range w.tombstones {
		if now.Sub(at) > cancelMemory {
			delete(w.tombstones, k)
		}
	}
	if len(w.tombstones) < 10000 {
		w.tombstones[id] = now
	}
}

// cancelledEarly reports whether a cancel for task id, in this offer or in
// every offer, arrived before the task. w.mu is held.
func (w *Worker) cancelledEarly(id, offer string) bool {
	for _, k := range []tombstone{{id, offer}, {id, ""}} {
		if at, ok := w.tombstones[k]; ok && time.Since(at) <= cancelMemory {
			return true
		}
	}
	return false
}

// taskIDsLocked lists the tasks the node has taken (running, or waiting
// for their locks), sorted. w.mu is held.
func (w *Worker) taskIDsLocked() []string {
	if len(w.running) == 0 {
		return nil
	}
	ids := make([]string, 0, len(w.running))
	for id := range w.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
