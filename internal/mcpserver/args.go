package mcpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/fabric-run/fabric/internal/frontend"
	"github.com/fabric-run/fabric/internal/wire"
	"github.com/fabric-run/fabric/subjects"
)

// Arguments are decoded strictly by name (an unknown argument is an error
// that lists the known ones, so a misspelt timeout is not silently ignored)
// and leniently by type: models send numbers and booleans as strings, and a
// list as one comma-separated string.

// bind decodes the call's arguments into dst, a pointer to a struct whose
// fields carry json tags.
func bind(req mcp.CallToolRequest, dst any) error {
	raw, err := json.Marshal(req.GetRawArguments())
	if err != nil {
		return fmt.Errorf("arguments: %w", err)
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal(raw, &args); err != nil {
		return fmt.Errorf("arguments: want an object, got %s", raw)
	}
	fields := argFields(dst)
	takes := "no arguments"
	if len(fields) > 0 {
		takes = strings.Join(slices.Sorted(maps.Keys(fields)), ", ")
	}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		f, ok := fields[k]
		if !ok {
			return fmt.Errorf("unknown argument %q; this tool takes %s", k, takes)
		}
		if err := json.Unmarshal(args[k], f.Addr().Interface()); err != nil {
			var ute *json.UnmarshalTypeError
			if errors.As(err, &ute) {
				return fmt.Errorf("argument %s: want %s, got %s", k, jsonType(ute.Type), ute.Value)
			}
			return fmt.Errorf("argument %s: %w", k, err)
		}
	}
	return nil
}

// argFields maps the json names of a struct's fields to the fields.
func argFields(dst any) map[string]reflect.Value { return fieldsOf(reflect.ValueOf(dst).Elem()) }

// fieldsOf maps the json names of struct v's fields to them, those of its
// embedded structs included.
func fieldsOf(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			// Arguments shared by several tools, embedded.
			for k, fv := range fieldsOf(v.Field(i)) {
				out[k] = fv
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = v.Field(i)
		}
	}
	return out
}

// jsonType names a Go type as JSON does.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(jsonType(t.Elem()), "a ") + "s"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// flexNumber is a JSON number, or a string holding one.
type flexNumber struct {
	v   float64
	set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *flexNumber) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return fmt.Errorf("want a number, got %s", b)
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("want a finite number, got %s", b)
	}
	n.v, n.set = f, true
	return nil
}

// count returns the number as a whole count of at least least, or def.
func (n flexNumber) count(name string, def, least int) (int, error) {
	if !n.set {
		return def, nil
	}
	if n.v != math.Trunc(n.v) || n.v < float64(least) || n.v > math.MaxInt32 {
		return 0, fmt.Errorf("%s: want a whole number of at least %d, got %v", name, least, n.v)
	}
	return int(n.v), nil
}

// duration returns the number as seconds, or zero (the default) if unset.
func (n flexNumber) duration(name string) (time.Duration, error) {
	if !n.set || n.v == 0 {
		return 0, nil
	}
	if n.v < 0 || n.v > 366*24*3600 {
		return 0, fmt.Errorf("%s: want a positive number of seconds, got %v", name, n.v)
	}
	return time.Duration(n.v * float64(time.Second)), nil
}

// flexBool is a JSON boolean, or a string holding one.
type flexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexBool) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v bool
	if err := json.Unmarshal(b, &v); err == nil {
		*f = flexBool(v)
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "1":
			*f = true
			return nil
		case "false", "no", "0", "":
			*f = false
			return nil
		}
	}
	return fmt.Errorf("want true or false, got %s", b)
}

// flexList is a JSON array of strings, or one comma-separated string.
type flexList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *flexList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var arr []string
	if err := json.Unmarshal(b, &arr); err == nil {
		*l = arr
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want an array of strings, got %s", b)
	}
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// lineRange is "FROM-TO", "FROM-", "N", or an array [FROM, TO].
type lineRange struct {
	from, to int
	set      bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *lineRange) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	bad := fmt.Errorf(`want "FROM-TO" (e.g. "10-40" or "100-") or [FROM, TO], got %s`, b)
	var arr []int
	if err := json.Unmarshal(b, &arr); err == nil {
		switch len(arr) {
		case 1:
			r.from, r.to = arr[0], arr[0]
		case 2:
			r.from, r.to = arr[0], arr[1]
		default:
			return bad
		}
		r.set = true
		return r.check(bad)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return bad
	}
	s = strings.TrimSpace(s)
	from, to, dash := strings.Cut(s, "-")
	if !dash {
		to = from
	}
	var err error
	if r.from, err = strconv.Atoi(strings.TrimSpace(from)); err != nil {
		return bad
	}
	if to = strings.TrimSpace(to); to != "" {
		if r.to, err = strconv.Atoi(to); err != nil {
			return bad
		}
	}
	r.set = true
	return r.check(bad)
}

func (r *lineRange) check(bad error) error {
	if r.from < 1 || r.to < 0 || (r.to > 0 && r.to < r.from) {
		return bad
	}
	return nil
}

// requirements builds and checks a command's explicit requirements.
func requirements(osName, arch string, caps []string, node string) (wire.Requirements, error) {
	var r wire.Requirements
	var err error
	if osName = strings.TrimSpace(osName); osName != "" {
		if r.OS, err = subjects.NormalizeOS(osName); err != nil {
			return r, fmt.Errorf("requires_os: %w", err)
		}
	}
	if arch = strings.TrimSpace(arch); arch != "" {
		if r.Arch, err = subjects.NormalizeArch(arch); err != nil {
			return r, fmt.Errorf("requires_arch: %w", err)
		}
	}
	for _, c := range caps {
		n, err := subjects.NormalizeCapability(c)
		if err != nil {
			return r, fmt.Errorf("requires_capabilities: %w", err)
		}
		r.Capabilities = append(r.Capabilities, n)
	}
	if node = strings.TrimSpace(node); node != "" {
		if err := subjects.ValidToken(node); err != nil {
			return r, fmt.Errorf("node_id %q: %w; cluster_status lists the node ids", node, err)
		}
		r.Node = node
	}
	return r, nil
}

// bashArgs are cluster_bash's arguments.
type bashArgs struct {
	Command              string     `json:"command"`
	RequiresOS           string     `json:"requires_os"`
	RequiresArch         string     `json:"requires_arch"`
	RequiresCapabilities flexList   `json:"requires_capabilities"`
	TimeoutSeconds       flexNumber `json:"timeout_seconds"`
	Cwd                  string     `json:"cwd"`
	Background           flexBool   `json:"background"`
	DryRun               flexBool   `json:"dry_run"`
	ExtraArgs
}

// offloadArgs are offload_to's arguments.
type offloadArgs struct {
	Command        string     `json:"command"`
	NodeID         string     `json:"node_id"`
	TimeoutSeconds flexNumber `json:"timeout_seconds"`
	Cwd            string     `json:"cwd"`
	Background     flexBool   `json:"background"`
	ExtraArgs
}

// commandRequest builds the request of a command tool.
func commandRequest(command, cwd string, timeout flexNumber, req wire.Requirements) (frontend.Request, error) {
	if strings.TrimSpace(command) == "" {
		return frontend.Request{}, errors.New("command is required: the shell command line to run")
	}
	d, err := timeout.duration("timeout_seconds")
	if err != nil {
		return frontend.Request{}, err
	}
	return frontend.Request{Task: wire.Task{Command: command, Cwd: cwd, Timeout: wire.Duration(d), Requires: req}}, nil
}

// parallelArgs are parallel_execute's arguments.
type parallelArgs struct {
	Commands             []string   `json:"commands"`
	RequiresOS           string     `json:"requires_os"`
	RequiresArch         string     `json:"requires_arch"`
	RequiresCapabilities flexList   `json:"requires_capabilities"`
	MaxParallel          flexNumber `json:"max_parallel"`
	TimeoutSeconds       flexNumber `json:"timeout_seconds"`
	FailFast             flexBool   `json:"fail_fast"`
}

// taskArgs are the arguments of task_status and cancel_task.
type taskArgs struct {
	TaskID string `json:"task_id"`
}

// waitArgs are wait_task's arguments.
type waitArgs struct {
	TaskID     string `json:"task_id"`
	UntilRegex string `json:"until_regex"`
}

// outputArgs are task_output's arguments.
type outputArgs struct {
	TaskID string     `json:"task_id"`
	Stream string     `json:"stream"`
	Head   flexNumber `json:"head"`
	Tail   flexNumber `json:"tail"`
	Range  lineRange  `json:"range"`
	Grep   string     `json:"grep"`
}

// taskID checks a task id argument.
func taskID(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", errors.New("task_id is required")
	}
	return id, nil
}
