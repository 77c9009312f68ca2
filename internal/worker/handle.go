package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/fabric-run/fabric/internal/locks"
	"github.com/fabric-run/fabric/internal/runner"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// resultHeadroom is what a result message needs beyond its two output
// streams (ids, numbers, markers, headers).
const resultHeadroom = 16 << 10

// handleTask runs on the endpoint's subscription goroutine: it decides at
// once (ack, busy, refusal) and hands the run to a goroutine of its own.
func (w *Worker) handleTask(req micro.Request) {
	msg := &nats.Msg{Subject: req.Subject(), Reply: req.Reply(), Header: nats.Header(req.Headers()), Data: req.Data()}
	task, format, err := wire.DecodeTask(msg, w.cfg.MaxTaskBytes)
	if err != nil {
		w.log.Warn("bad task message", "subject", msg.Subject, "err", err)
		w.refuse(req, format, &wire.Result{Error: wire.ErrBadRequest, ExitCode: -1, Node: w.cfg.Name, Message: err.Error()}, "400")
		return
	}
	if task.ID == "" {
		task.ID = wire.NewTaskID()
	}
	if by, ok := wire.AckBy(msg); ok && time.Now().After(by) {
		// The front end has given up on this node and sent the task
		// elsewhere: running it now would run it twice.
		w.decline(req, format, task, wire.AckLate, wire.ErrLate, fmt.Sprintf(
			"task reached node %s %s after its ack deadline: its submitter has given up on this node",
			w.cfg.Name, time.Since(by).Round(time.Millisecond)))
		return
	}
	if reason := w.mismatch(task.Requires); reason != "" {
		w.decline(req, format, task, wire.AckRejected, wire.ErrMismatch, reason)
		return
	}
	if v := w.cfg.Verifier; v != nil {
		if err := v.Verify(task); err != nil {
			w.decline(req, format, task, wire.AckRejected, wire.ErrRejected, err.Error())
			return
		}
	}
	if w.cfg.Check != nil {
		if err := w.cfg.Check(task); err != nil {
			w.decline(req, format, task, wire.AckRejected, wire.ErrRejected, err.Error())
			return
		}
	}
	specs, kind, err := w.checkV2(task, format, msg.Reply)
	if err != nil {
		w.decline(req, format, task, wire.AckRejected, kind, err.Error())
		return
	}
	j, status, kind, reason := w.admit(task, wire.Offer(msg), specs)
	if j == nil {
		w.decline(req, format, task, status, kind, reason)
		return
	}
	if format == wire.FormatMsgpack && msg.Reply != "" {
		ack := &wire.Ack{ID: task.ID, Node: w.cfg.Name, Instance: w.instance, Status: wire.AckAccepted}
		if len(specs) > 0 {
			ack.Queued = "waiting for lock " + specs[0].Name
		}
		w.send(msg.Reply, format, ack)
	}
	go w.run(j, format, msg.Reply)
}

// admit takes task, with a slot and what else it needs, or (a task with
// locks to take first) with nothing until it holds them; or says why not.
func (w *Worker) admit(task *wire.Task, offer string, specs []locks.Spec) (*job, wire.AckStatus, wire.ErrorKind, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.needOf(task)
	switch {
	case w.draining:
		return nil, wire.AckDraining, wire.ErrDraining, "node " + w.cfg.Name + " is shutting down"
	case w.running[task.ID] != nil:
		return nil, wire.AckRejected, wire.ErrRejected, "task " + task.ID + " is already running on node " + w.cfg.Name
	case w.cancelledEarly(task.ID, offer):
		return nil, wire.AckRejected, wire.ErrRejected, "task " + task.ID + " was cancelled before it started"
	}
	if why := w.res.impossible(w.cfg.Name, n); why != "" {
		return nil, wire.AckRejected, wire.ErrMismatch, why
	}
	if why := w.res.short(w.cfg.Name, n); why != "" {
		return nil, wire.AckBusy, wire.ErrBusy, why
	}
	if w.res.waiting > 0 {
		return nil, wire.AckBusy, wire.ErrBusy, fmt.Sprintf("node %s is busy: a task that waited for its lock starts first", w.cfg.Name)
	}
	if len(specs) > 0 && w.lockWaiters >= w.cfg.MaxWaiting {
		return nil, wire.AckBusy, wire.ErrBusy, fmt.Sprintf("node %s is busy: %d tasks already wait for locks here", w.cfg.Name, w.lockWaiters)
	}
	if v := w.cfg.Verifier; v != nil {
		if err := v.Admit(task.ID); err != nil {
			return nil, wire.AckRejected, wire.ErrRejected, err.Error()
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	j := &job{task: task, offer: offer, ctx: ctx, cancel: cancel, locks: specs, need: n}
	if len(specs) == 0 {
		w.grantLocked(j)
	} else {
		w.lockWaiters++
	}
	w.running[task.ID] = j
	w.jobs.Add(1)
	return j, wire.AckAccepted, "", ""
}

// run runs an admitted task and publishes its result.
func (w *Worker) run(j *job, format wire.Format, reply string) {
	defer w.finish(j)
	task := j.task
	if len(j.locks) > 0 {
		leases, res := w.takeLocks(j, format, reply)
		if res != nil {
			w.deliver(j, format, reply, res)
			return
		}
		j.leases = leases
		stop := w.watchLeases(j, leases)
		defer stop()
	}
	var streams []*streamer
	if format == wire.FormatMsgpack && reply != "" {
		streams = append(streams, newStreamer(w, task.ID, reply, true))
	}
	if task.OutputTo != "" {
		streams = append(streams, newStreamer(w, task.ID, task.OutputTo, false))
	}
	for _, st := range streams {
		defer st.close()
	}
	var out runner.OutputFunc
	if len(streams) > 0 {
		out = func(s wire.Stream, p []byte) {
			for _, st := range streams {
				st.write(s, p)
			}
		}
	}
	timeout := task.Timeout.D()
	if timeout <= 0 {
		timeout = w.cfg.DefaultTimeout
	}
	stdin, err := w.stdinFor(j, format, reply)
	if err != nil {
		w.deliver(j, format, reply, &wire.Result{ExitCode: -1, Error: wire.ErrStartFailed, Message: err.Error()})
		return
	}
	if c, ok := stdin.(io.Closer); ok {
		defer c.Close()
	}
	res := runner.Run(j.ctx, runner.Spec{
		Command:     task.Command,
		Argv:        task.Argv,
		Shell:       w.cfg.Shell,
		Dir:         w.dir(task.Cwd),
		Env:         w.taskEnv(j),
		Timeout:     timeout,
		IdleTimeout: task.IdleTimeout.D(),
		OutputLimit: w.outputLimit(task),
		Direct:      w.direct.Load(),
		Stdin:       stdin,
	}, out)
	if res.Error == wire.ErrCancelled {
		explainCancel(j, res)
	}
	w.deliver(j, format, reply, res)
}

// deliver sends a task's result to its submitter and its ResultTo.
func (w *Worker) deliver(j *job, format wire.Format, reply string, res *wire.Result) {
	task := j.task
	res.ID, res.Node = task.ID, w.cfg.Name
	w.log.Debug("task done", "id", task.ID, "exit", res.ExitCode, "error", res.Error, "duration", res.Duration.D())
	// Off the running table, its locks given back, before the result goes
	// out: whoever acts on the result at once (a cancel, a look at the
	// node's load or at the lock) must find the task over.
	w.releaseLocks(j, j.leases)
	j.leases = nil
	w.release(j)
	if reply != "" {
		w.send(reply, format, res)
	}
	if task.ResultTo != "" {
		w.send(task.ResultTo, wire.FormatMsgpack, res)
	}
}

// taskEnv is the task's environment with, on a node that hands out GPUs,
// the devices it holds (or none).
func (w *Worker) taskEnv(j *job) map[string]string {
	if len(w.res.gpus) == 0 {
		return j.task.Env
	}
	env := make(map[string]string, len(j.task.Env)+2)
	maps.Copy(env, j.task.Env)
	w.mu.Lock()
	devices := j.grant.devices
	w.mu.Unlock()
	maps.Copy(env, gpuEnv(devices))
	return env
}

// release takes j off the running table, unless a task of the same id has
// taken its place there since, and gives back what it holds: its slot,
// devices and units, or its place among the tasks waiting for locks.
func (w *Worker) release(j *job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if j.released {
		return
	}
	j.released = true
	if w.running[j.task.ID] == j {
		delete(w.running, j.task.ID)
	}
	if j.started {
		w.res.give(j.grant)
	} else if len(j.locks) > 0 {
		w.lockWaiters--
	}
}

// finish ends j's bookkeeping once its run is over and its result sent
// (run has released it from the running table already).
func (w *Worker) finish(j *job) {
	j.cancel(nil)
	w.jobs.Done()
	select {
	case w.idle <- struct{}{}:
	default:
	}
}

// outputLimit is the bytes kept per stream: the task's or the node's limit,
// lowered so that a result with both streams fits the server's max payload.
func (w *Worker) outputLimit(task *wire.Task) int {
	limit := w.cfg.OutputLimit
	if task.OutputLimit > 0 && task.OutputLimit < int64(limit) {
		limit = int(task.OutputLimit)
	}
	if fit := (int(w.nc.MaxPayload()) - resultHeadroom) / 2; fit > 0 && fit < limit {
		limit = fit
	}
	return limit
}

// dir resolves a task's working directory as the task contract says
// (wire.WorkDir): "~" is the home directory and a relative path is taken
// from the node's default directory.
func (w *Worker) dir(cwd string) string {
	home, _ := os.UserHomeDir()
	return wire.WorkDir(cwd, w.cfg.Dir, home)
}

// mismatch says why this node does not meet r, or "" if it does.
func (w *Worker) mismatch(r wire.Requirements) string {
	if r.Node != "" && r.Node != w.cfg.Name {
		return fmt.Sprintf("task is for node %s, this is %s", r.Node, w.cfg.Name)
	}
	if r.OS != "" {
		if os, err := subjects.NormalizeOS(r.OS); err != nil || os != w.cfg.OS {
			return fmt.Sprintf("task requires os %s, node %s is %s", r.OS, w.cfg.Name, w.cfg.OS)
		}
	}
	if r.Arch != "" {
		if arch, err := subjects.NormalizeArch(r.Arch); err != nil || arch != w.cfg.Arch {
			return fmt.Sprintf("task requires arch %s, node %s is %s", r.Arch, w.cfg.Name, w.cfg.Arch)
		}
	}
	for _, c := range r.Capabilities {
		if !w.hasCapability(c) {
			return fmt.Sprintf("task requires capability %s, node %s has %s", c, w.cfg.Name, strings.Join(w.caps, ","))
		}
	}
	return ""
}

func (w *Worker) hasCapability(c string) bool {
	for _, have := range w.caps {
		if have == c {
			return true
		}
	}
	return false
}

// decline answers a task the node will not run: an Ack to fabric front ends
// (so they can try another node), a Result to everyone else.
func (w *Worker) decline(req micro.Request, format wire.Format, task *wire.Task, status wire.AckStatus, kind wire.ErrorKind, reason string) {
	w.log.Info("task declined", "id", task.ID, "status", status, "reason", reason)
	code := "503"
	if status == wire.AckRejected {
		code = "403"
	}
	if format == wire.FormatMsgpack {
		w.refuse(req, format, &wire.Ack{ID: task.ID, Node: w.cfg.Name, Instance: w.instance, Status: status, Error: kind, Reason: reason}, code)
		return
	}
	w.refuse(req, format, &wire.Result{ID: task.ID, Node: w.cfg.Name, ExitCode: -1, Error: kind, Message: reason}, code)
}

// refuse answers through the micro request, so the service's error count
// (nats micro stats) sees refusals.
func (w *Worker) refuse(req micro.Request, format wire.Format, m wire.Message, code string) {
	if req.Reply() == "" {
		return
	}
	msg, err := wire.Encode(format, "", m)
	if err != nil {
		w.log.Error("encode reply", "err", err)
		return
	}
	desc := "refused"
	switch x := m.(type) {
	case *wire.Result:
		desc = x.Message
	case *wire.Ack:
		desc = x.Reason
	}
	if err := req.Error(code, oneLine(desc), msg.Data, micro.WithHeaders(micro.Headers(msg.Header))); err != nil {
		w.log.Warn("reply", "err", err)
	}
}

// send publishes m to subject in format.
func (w *Worker) send(subject string, format wire.Format, m wire.Message) {
	msg, err := wire.Encode(format, subject, m)
	if err == nil {
		err = w.nc.PublishMsg(msg)
	}
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		w.log.Warn("publish", "subject", subject, "kind", m.Kind(), "err", err)
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return "refused"
	}
	return s
}
