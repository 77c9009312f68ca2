package worker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// gpuDetectTimeout bounds `nvidia-smi -L` at start.
const gpuDetectTimeout = 10 * time.Second

// The environment a task's GPU devices are named in: CUDA programs read the
// first, the NVIDIA container runtime the second.
const (
	envCUDADevices   = "CUDA_VISIBLE_DEVICES"
	envNVIDIADevices = "NVIDIA_VISIBLE_DEVICES"
)

// DetectGPUs returns the GPU devices `nvidia-smi -L` lists, as the indices
// CUDA_VISIBLE_DEVICES takes ("0", "1", ...). Without nvidia-smi on PATH
// there are none and no error.
func DetectGPUs(ctx context.Context) ([]string, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, gpuDetectTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-L").Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi -L: %w", err)
	}
	return parseGPUList(out), nil
}

// gpuDevices returns the devices a node configured with n GPUs hands out:
// n, or with n zero those nvidia-smi lists unless detection is off.
func gpuDevices(n int, noDetect bool) ([]string, error) {
	switch {
	case n < 0 || n == 0 && noDetect:
		return nil, nil
	case n == 0:
		return DetectGPUs(context.Background())
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	return ids, nil
}

// parseGPUList reads `nvidia-smi -L`: one "GPU <index>: <name> (UUID: ...)"
// line per device (MIG devices are listed under theirs, indented, and not
// counted).
func parseGPUList(out []byte) []string {
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "GPU ")
		if !ok {
			continue
		}
		idx, _, ok := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(idx); ok && err == nil && n >= 0 {
			ids = append(ids, strconv.Itoa(n))
		}
	}
	return ids
}

// gpuEnv returns the environment that hands devices to a task: exactly
// those, or (devices empty, on a node that hands GPUs out) none, so a task
// that asked for no GPU cannot take one another task holds.
func gpuEnv(devices []string) map[string]string {
	if len(devices) == 0 {
		return map[string]string{envCUDADevices: "", envNVIDIADevices: "void"}
	}
	list := strings.Join(devices, ",")
	return map[string]string{envCUDADevices: list, envNVIDIADevices: list}
}
