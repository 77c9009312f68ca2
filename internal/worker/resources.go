package worker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// gpuCapability is the capability of tasks that want a GPU.
const gpuCapability = "gpu"

// need is what a task takes of its node while its command runs, besides
// a slot: GPU devices, and a unit of each limited capability it needs.
type need struct {
	gpus int
	caps []string // limited capabilities, sorted
}

// grant is what a running task holds: a slot, its devices, its units.
type grant struct {
	slot    bool
	devices []string
	caps    []string
}

// resources are what a node hands its running tasks: slots, GPU devices
// and units of limited capabilities. The worker's mu guards them.
type resources struct {
	slots    int
	used     int
	gpus     []string          // device ids, in order
	gpuOwner map[string]string // device → task holding it
	limits   map[string]int
	capUsed  map[string]int
	// waiting counts tasks that hold their locks and wait for the rest:
	// while any does, new tasks are turned away so they get it first.
	waiting int
	// freed is closed, and replaced, whenever something is given back.
	freed chan struct{}
}

func newResources(slots int, gpus []string, limits map[string]int) *resources {
	return &resources{slots: slots, gpus: gpus, gpuOwner: map[string]string{}, limits: limits,
		capUsed: map[string]int{}, freed: make(chan struct{})}
}

// validLimits checks a node's capability limits.
func validLimits(limits map[string]int) error {
	for c, n := range limits {
		if _, err := subjects.NormalizeCapability(c); err != nil {
			return fmt.Errorf("limit on %q: %w", c, err)
		}
		if n < 1 {
			return fmt.Errorf("limit on %s: %d: must be at least 1", c, n)
		}
	}
	return nil
}

// needOf works out what task takes of this node: the capabilities it
// needs (its requirements, and those Config.Needs finds in its command)
// that the node limits, and its GPU devices: as many as it asks for, or
// one if it needs the gpu capability on a node that hands devices out.
func (w *Worker) needOf(task *wire.Task) need {
	var n need
	wanted := slices.Clone(task.Requires.Capabilities)
	if w.cfg.Needs != nil {
		wanted = append(wanted, w.cfg.Needs(task)...)
	}
	for _, c := range wanted {
		if _, limited := w.res.limits[c]; limited && !slices.Contains(n.caps, c) {
			n.caps = append(n.caps, c)
		}
	}
	slices.Sort(n.caps)
	n.gpus = task.GPUs
	if n.gpus == 0 && len(w.res.gpus) > 0 && slices.Contains(wanted, gpuCapability) {
		n.gpus = 1
	}
	return n
}

// impossible says why this node can never meet n, or "".
func (r *resources) impossible(node string, n need) string {
	if n.gpus > len(r.gpus) {
		if len(r.gpus) == 0 {
			return fmt.Sprintf("task asks for %d GPUs, node %s hands out none", n.gpus, node)
		}
		return fmt.Sprintf("task asks for %d GPUs, node %s has %d", n.gpus, node, len(r.gpus))
	}
	return ""
}

// short says what of n is missing now, or "" if all of it is free.
func (r *resources) short(node string, n need) string {
	if r.used >= r.slots {
		return fmt.Sprintf("node %s is busy: %d of %d slots taken", node, r.used, r.slots)
	}
	if free := r.freeGPUs(); n.gpus > free {
		return fmt.Sprintf("node %s is busy: %d of its %d GPUs free, task asks for %d", node, free, len(r.gpus), n.gpus)
	}
	for _, c := range n.caps {
		if r.capUsed[c] >= r.limits[c] {
			return fmt.Sprintf("node %s is busy: %d of %d %s tasks running (its limit)", node, r.capUsed[c], r.limits[c], c)
		}
	}
	return ""
}

func (r *resources) freeGPUs() int { return len(r.gpus) - len(r.gpuOwner) }

// take hands n and a slot to task id; short(n) must be "".
func (r *resources) take(id string, n need) grant {
	g := grant{slot: true, caps: n.caps}
	r.used++
	for _, d := range r.gpus {
		if len(g.devices) == n.gpus {
			break
		}
		if _, held := r.gpuOwner[d]; !held {
			r.gpuOwner[d] = id
			g.devices = append(g.devices, d)
		}
	}
	for _, c := range n.caps {
		r.capUsed[c]++
	}
	return g
}

// give takes back what g holds and wakes the tasks waiting for it.
func (r *resources) give(g grant) {
	if !g.slot {
		return
	}
	r.used--
	for _, d := range g.devices {
		delete(r.gpuOwner, d)
	}
	for _, c := range g.caps {
		r.capUsed[c]--
	}
	close(r.freed)
	r.freed = make(chan struct{})
}

// full lists the capabilities a new task needing them would be turned
// away for now.
func (r *resources) full() []string {
	var out []string
	for c, n := range r.limits {
		if r.capUsed[c] >= n {
			out = append(out, c)
		}
	}
	if len(r.gpus) > 0 && r.freeGPUs() == 0 && !slices.Contains(out, gpuCapability) {
		out = append(out, gpuCapability)
	}
	slices.Sort(out)
	return out
}

// waitResources takes j's resources once they are free, before any task
// admitted later, or fails when ctx ends. For tasks that waited for locks
// (and took nothing while they did).
func (w *Worker) waitResources(ctx context.Context, j *job) error {
	w.mu.Lock()
	w.res.waiting++
	defer func() {
		w.res.waiting--
		w.mu.Unlock()
	}()
	for {
		if w.res.short(w.cfg.Name, j.need) == "" {
			w.grantLocked(j)
			return nil
		}
		freed := w.res.freed
		w.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			w.mu.Lock()
			return context.Cause(ctx)
		}
		w.mu.Lock()
	}
}

// grantLocked gives j its slot, devices and units. w.mu is held.
func (w *Worker) grantLocked(j *job) {
	j.grant = w.res.take(j.task.ID, j.need)
	j.started = true
	if len(j.locks) > 0 {
		w.lockWaiters-- // it waited for its locks until now
	}
}

// describeNeed is n for people: "2 GPUs, docker".
func describeNeed(n need) string {
	var parts []string
	if n.gpus > 0 {
		parts = append(parts, fmt.Sprintf("%d GPUs", n.gpus))
	}
	parts = append(parts, n.caps...)
	return strings.Join(parts, ", ")
}
