package guard

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// writeTarget judges a path a command writes to, resolved against the
// working directory: a block or memory device, or the kernel's sysrq
// trigger. It returns the rule broken and why, or "" if none.
func (w *checker) writeTarget(target shell.Value) (rule, reason string) {
	for _, p := range w.resolve(target) {
		if p.Home {
			continue
		}
		clean := path.Clean(p.S)
		switch {
		case isBlockDevice(clean):
			return RuleBlockDevice, fmt.Sprintf("write to block device %q", p.S)
		case clean == "/proc/sysrq-trigger" && !w.g.allowPower:
			return RulePower, "write to /proc/sysrq-trigger, which can reboot, power off or crash the kernel"
		}
	}
	return "", ""
}

// checkWrites judges every path the words in targets may name as written to.
func (w *checker) checkWrites(c *shell.Invocation, targets []*shell.Arg, trim string) {
	for _, t := range targets {
		if w.checkWrite(c, w.val(t), trim); w.stopped() {
			return
		}
	}
}

// checkWrite judges every path v may name, less the prefix trim, as written
// to.
func (w *checker) checkWrite(c *shell.Invocation, v shell.Values, trim string) {
	if v.Overflow {
		w.refuse(c, RuleComplexity, "too many possible values for a path")
		return
	}
	for _, alt := range v.Alts {
		if trim != "" {
			s, ok := strings.CutPrefix(alt.S, trim)
			if !ok || alt.Home {
				continue
			}
			alt = shell.Value{S: s}
		}
		if rule, reason := w.writeTarget(alt); rule != "" {
			w.refuse(c, rule, reason)
			return
		}
	}
}

// operands returns the arguments of a command line that are not options
// (every word after "--"), keeping the words the guard cannot see.
func (w *checker) operands(args []*shell.Arg) []*shell.Arg {
	var out []*shell.Arg
	opts := true
	for _, a := range args[1:] {
		s, ok := w.lit(a)
		switch {
		case ok && opts && s == "--":
			opts = false
		case ok && opts && len(s) > 1 && s[0] == '-':
		default:
			out = append(out, a)
		}
	}
	return out
}

// ruleDd refuses dd of=<block device>.
func (w *checker) ruleDd(c *shell.Invocation, _ string, args []*shell.Arg) {
	w.checkWrites(c, args[1:], "of=")
}

// ruleTee refuses tee to a block device.
func (w *checker) ruleTee(c *shell.Invocation, _ string, args []*shell.Arg) {
	w.checkWrites(c, w.operands(args), "")
}

// ruleCp refuses cp onto a block device (cp disk.img /dev/sdb).
func (w *checker) ruleCp(c *shell.Invocation, _ string, args []*shell.Arg) {
	for i, a := range args[1:] {
		s, ok := w.lit(a)
		switch {
		case !ok:
		case s == "-t" || s == "--target-directory":
			if i+2 < len(args) {
				w.checkWrites(c, args[i+2:i+3], "")
			}
			return
		case strings.HasPrefix(s, "--target-directory="):
			w.checkWrite(c, shell.One(strings.TrimPrefix(s, "--target-directory=")), "")
			return
		}
	}
	if ops := w.operands(args); len(ops) > 1 {
		w.checkWrites(c, ops[len(ops)-1:], "")
	}
}

// ruleShred refuses shred of a block device.
func (w *checker) ruleShred(c *shell.Invocation, _ string, args []*shell.Arg) {
	for _, t := range w.operands(args) {
		for _, alt := range w.val(t).Alts {
			for _, p := range w.resolve(alt) {
				if !p.Home && isBlockDevice(path.Clean(p.S)) {
					w.refuse(c, RuleBlockDevice, fmt.Sprintf("shred of block device %q", p.S))
					return
				}
			}
		}
	}
}

// ruleFormat refuses mkfs and its kin (mke2fs, mkswap, wipefs, blkdiscard,
// newfs ...) on anything under /dev, and on a target the guard cannot see.
// On a literal file they are allowed: building a file system image
// (mkfs.ext4 rootfs.img, mkswap /swapfile) is ordinary work.
func (w *checker) ruleFormat(c *shell.Invocation, name string, args []*shell.Arg) {
	for _, a := range args[1:] {
		v := w.val(a)
		if s, ok := v.Literal(); ok && strings.HasPrefix(s, "-") {
			continue
		}
		if v.Unknown || v.Overflow {
			w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s with an argument the guard cannot see", name))
			return
		}
		for _, alt := range v.Alts {
			for _, p := range w.resolve(alt) {
				clean := path.Clean(p.S)
				if !p.Home && (strings.HasPrefix(clean, "/dev/") || isBlockDevice(clean)) {
					w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s formats or wipes %q", name, p.S))
					return
				}
			}
		}
	}
}

// readOnlyPartitionFlags are the options with which a partition editor only
// reads: the short letters, then the long names.
var readOnlyPartitionFlags = map[string][2][]string{
	"fdisk":  {{"l", "x"}, {"list", "list-details"}},
	"sfdisk": {{"l", "d", "J", "s", "g", "V", "F", "T"}, {"list", "dump", "json", "show-size", "show-geometry", "verify", "list-free", "list-types"}},
	"gdisk":  {{"l"}, nil},
	"sgdisk": {{"p", "i", "v", "O", "L", "P"}, {"print", "info", "verify", "print-mbr", "list-types", "pretend"}},
	"parted": {{"l"}, {"list"}},
}

// partedWrites are the parted commands that change a disk.
var partedWrites = []string{
	"mklabel", "mktable", "mkpart", "mkpartfs", "rm", "resizepart", "resize", "name",
	"set", "toggle", "disk_set", "disk_toggle", "rescue", "move", "cp", "mkfs", "type",
}

// rulePartition refuses partition editors unless given an option with which
// they only read (fdisk -l, sfdisk -d, sgdisk -p, parted -l), or, for parted,
// commands that only read (parted /dev/sda print).
func (w *checker) rulePartition(c *shell.Invocation, name string, args []*shell.Arg) {
	flags := readOnlyPartitionFlags[name]
	for _, a := range args[1:] {
		s, ok := w.lit(a)
		if !ok || len(s) < 2 || s[0] != '-' {
			continue
		}
		if long, ok := strings.CutPrefix(s, "--"); ok {
			long, _, _ = strings.Cut(long, "=")
			if slices.Contains(flags[1], long) {
				return
			}
			continue
		}
		for _, f := range flags[0] {
			if strings.Contains(s[1:], f) {
				return
			}
		}
	}
	if name == "parted" && w.partedReadsOnly(c, args) {
		return
	}
	w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s can rewrite a disk's partition table", name))
}

// partedReadsOnly reports whether parted is given commands and none changes
// the disk (parted accepts abbreviations, so any prefix of a writing command
// of two letters or more counts as one).
func (w *checker) partedReadsOnly(c *shell.Invocation, args []*shell.Arg) bool {
	i := c.SkipOptions(1, "a", "align") + 1 // after the device
	if i >= len(args) {
		return false // interactive: commands come from standard input
	}
	for _, a := range args[i:] {
		s, ok := w.lit(a)
		if !ok {
			return false
		}
		for _, cmd := range partedWrites {
			if s == cmd || (len(s) >= 2 && strings.HasPrefix(cmd, s)) {
				return false
			}
		}
	}
	return true
}

// diskToolVerbs are the subcommands of disk tools that erase or repartition
// a disk, compared case-insensitively.
var diskToolVerbs = map[string][]string{
	"diskutil":   {"erasedisk", "erasevolume", "reformat", "partitiondisk", "zerodisk", "randomdisk", "secureerase", "splitpartition", "mergepartitions"},
	"nvme":       {"format", "sanitize", "write-zeroes"},
	"cryptsetup": {"luksformat", "erase", "lukserase", "reencrypt"},
}

// ruleDiskTool refuses the subcommands of diskutil, nvme and cryptsetup that
// destroy a disk's data, and badblocks' write test.
func (w *checker) ruleDiskTool(c *shell.Invocation, name string, args []*shell.Arg) {
	for _, a := range args[1:] {
		s, ok := w.lit(a)
		if !ok {
			continue
		}
		if name == "badblocks" {
			if len(s) > 1 && s[0] == '-' && s[1] != '-' && strings.ContainsRune(s, 'w') {
				w.refuse(c, RuleDiskFormat, "badblocks -w overwrites the whole device")
				return
			}
			continue
		}
		for _, verb := range diskToolVerbs[name] {
			if strings.EqualFold(s, verb) {
				w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s %s erases or repartitions a disk", name, s))
				return
			}
		}
	}
}
