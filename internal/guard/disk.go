package guard

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// writeTarget judges a path a command writes to, resolved against the
// working directory: a block or memory device, or the kernel's sysrq
// trigger. It returns the rule broken and why, or "" if none.
func (w *walker) writeTarget(target value) (rule, reason string) {
	for _, p := range w.resolve(target) {
		if p.home {
			continue
		}
		clean := path.Clean(p.s)
		switch {
		case isBlockDevice(clean):
			return RuleBlockDevice, fmt.Sprintf("write to block device %q", p.s)
		case clean == "/proc/sysrq-trigger" && !w.g.allowPower:
			return RulePower, "write to /proc/sysrq-trigger, which can reboot, power off or crash the kernel"
		}
	}
	return "", ""
}

// checkWrites judges every path the words in targets may name as written to.
func (w *walker) checkWrites(c *call, targets []*arg, trim string) {
	for _, t := range targets {
		v := w.val(t)
		if v.overflow {
			w.refuse(c, RuleComplexity, "too many possible values for a path")
			return
		}
		for _, alt := range v.alts {
			if trim != "" {
				s, ok := strings.CutPrefix(alt.s, trim)
				if !ok || alt.home {
					continue
				}
				alt = value{s: s}
			}
			if rule, reason := w.writeTarget(alt); rule != "" {
				w.refuse(c, rule, reason)
				return
			}
		}
	}
}

// operands returns the arguments of a command line that are not options
// (every word after "--"), keeping the words the guard cannot see.
func (w *walker) operands(args []*arg) []*arg {
	var out []*arg
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
func (w *walker) ruleDd(c *call, _ string, args []*arg) {
	w.checkWrites(c, args[1:], "of=")
}

// ruleTee refuses tee to a block device.
func (w *walker) ruleTee(c *call, _ string, args []*arg) {
	w.checkWrites(c, w.operands(args), "")
}

// ruleCp refuses cp onto a block device (cp disk.img /dev/sdb).
func (w *walker) ruleCp(c *call, _ string, args []*arg) {
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
			w.checkWrites(c, []*arg{literalArg(strings.TrimPrefix(s, "--target-directory="))}, "")
			return
		}
	}
	if ops := w.operands(args); len(ops) > 1 {
		w.checkWrites(c, ops[len(ops)-1:], "")
	}
}

// ruleShred refuses shred of a block device.
func (w *walker) ruleShred(c *call, _ string, args []*arg) {
	for _, t := range w.operands(args) {
		for _, alt := range w.val(t).alts {
			for _, p := range w.resolve(alt) {
				if !p.home && isBlockDevice(path.Clean(p.s)) {
					w.refuse(c, RuleBlockDevice, fmt.Sprintf("shred of block device %q", p.s))
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
func (w *walker) ruleFormat(c *call, name string, args []*arg) {
	for _, a := range args[1:] {
		v := w.val(a)
		if s, ok := v.literal(); ok && strings.HasPrefix(s, "-") {
			continue
		}
		if v.unknown || v.overflow {
			w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s with an argument the guard cannot see", name))
			return
		}
		for _, alt := range v.alts {
			for _, p := range w.resolve(alt) {
				clean := path.Clean(p.s)
				if !p.home && (strings.HasPrefix(clean, "/dev/") || isBlockDevice(clean)) {
					w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s formats or wipes %q", name, p.s))
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
func (w *walker) rulePartition(c *call, name string, args []*arg) {
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
	if name == "parted" && w.partedReadsOnly(args) {
		return
	}
	w.refuse(c, RuleDiskFormat, fmt.Sprintf("%s can rewrite a disk's partition table", name))
}

// partedReadsOnly reports whether parted is given commands and none changes
// the disk (parted accepts abbreviations, so any prefix of a writing command
// of two letters or more counts as one).
func (w *walker) partedReadsOnly(args []*arg) bool {
	i := w.skipOptions(args, 1, "a", "align") + 1 // after the device
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
func (w *walker) ruleDiskTool(c *call, name string, args []*arg) {
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
