package guard

import (
	"path"
	"strings"

	"github.com/fabric-run/fabric/internal/shell"
)

// protectedTop lists the top-level directories (Linux, the BSDs, macOS) whose
// recursive deletion or recursive change of owner or mode leaves a machine
// unusable, besides "/" itself. Names are compared case-insensitively, as
// macOS file systems usually do.
var protectedTop = []string{
	"applications", "bin", "boot", "dev", "efi", "etc", "home", "lib", "lib32",
	"lib64", "libx32", "library", "media", "mnt", "nix", "opt", "private", "proc",
	"root", "run", "sbin", "snap", "srv", "sys", "system", "users", "usr", "var",
	"volumes",
}

// homeDirs are the directories that hold users' homes: /home/<user> and
// /Users/<user> are protected when the policy protects homes.
var homeDirs = []string{"home", "users"}

// protected reports whether p, an absolute or home-relative path, names "/",
// a protected top-level directory, a home directory when homes are protected,
// or is a glob that may match one of them or everything directly inside one
// (/*, /usr/*, ~/*, ~/.*).
func (g *Guard) protected(p shell.Value) bool {
	if p.Home {
		rest := strings.TrimLeft(p.S, "/")
		if rest == "" {
			rest = "."
		}
		rest = path.Clean(rest)
		if rest == ".." || strings.HasPrefix(rest, "../") {
			return true // above a home: /home or "/" itself
		}
		if g.homeOpen {
			return false
		}
		return rest == "." || (!strings.Contains(rest, "/") && matchesAnyName(rest))
	}
	clean := strings.ToLower(path.Clean(p.S))
	if !strings.HasPrefix(clean, "/") {
		return false
	}
	comps := strings.Split(clean[1:], "/")
	if clean == "/" {
		comps = nil
	}
	switch len(comps) {
	case 0:
		return true
	case 1:
		// "/"'s own entries: a protected one, or a glob matching everything.
		return matchesAny(comps[0], protectedTop) || matchesAnyName(comps[0])
	case 2:
		if matchesAny(comps[0], protectedTop) && matchesAnyName(comps[1]) {
			return true // /usr/*
		}
		return !g.homeOpen && matchesAny(comps[0], homeDirs) && comps[1] != ""
	case 3:
		// /home/alice/*, /home/*/*: everything in a home.
		return !g.homeOpen && matchesAny(comps[0], homeDirs) && comps[1] != "" && matchesAnyName(comps[2])
	}
	return false
}

// systemPath reports whether p, an absolute or home-relative path, is "/",
// a protected top-level directory, or a glob that may match one (/*, /u*).
func systemPath(p shell.Value) bool {
	if p.Home {
		return false
	}
	clean := strings.ToLower(path.Clean(p.S))
	if clean == "/" {
		return true
	}
	top, rest, _ := strings.Cut(strings.TrimPrefix(clean, "/"), "/")
	return strings.HasPrefix(clean, "/") && rest == "" && (matchesAny(top, protectedTop) || matchesAnyName(top))
}

// hasMeta reports whether a path component is a glob pattern.
func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// matchesAny reports whether component c, possibly a glob, may name one of names.
func matchesAny(c string, names []string) bool {
	for _, n := range names {
		if matchComponent(c, n) {
			return true
		}
	}
	return false
}

// matchesAnyName reports whether c is a glob matching any ordinary name: the
// whole content of a directory (*, ?*, .*, [a-z]*).
func matchesAnyName(c string) bool {
	return hasMeta(c) && (matchComponent(c, "x") || matchComponent(c, ".x"))
}

// matchComponent reports whether component c, possibly a glob, matches name.
func matchComponent(c, name string) bool {
	if !hasMeta(c) {
		return c == name
	}
	ok, err := path.Match(c, name)
	if err != nil {
		return c == name // a malformed pattern stands for itself
	}
	return ok
}

// devicePattern describes block and memory device names under /dev.
type devicePattern struct {
	prefix string
	next   byte // what follows the prefix: 'd' a digit, 'l' a letter, 'a' anything, 'e' nothing
}

// blockDevices are the devices whose overwriting destroys a disk or the
// running system: disks and partitions (Linux, the BSDs, macOS), RAID, device
// mapper, loop, network block devices, memory.
var blockDevices = []devicePattern{
	{"sd", 'l'}, {"hd", 'l'}, {"vd", 'l'}, {"xvd", 'l'}, {"ubd", 'l'}, {"dasd", 'l'},
	{"nvme", 'd'}, {"mmcblk", 'd'}, {"md", 'd'}, {"md/", 'a'}, {"dm-", 'd'},
	{"mapper/", 'a'}, {"disk", 'a'}, {"rdisk", 'd'}, {"loop", 'd'}, {"nbd", 'd'},
	{"rbd", 'd'}, {"zd", 'd'}, {"zvol/", 'a'}, {"sr", 'd'}, {"fd", 'd'},
	{"mtdblock", 'd'}, {"mtd", 'd'}, {"bcache", 'd'}, {"drbd", 'd'}, {"cciss/", 'a'},
	{"block/", 'a'}, {"ada", 'd'}, {"da", 'd'}, {"nvd", 'd'}, {"vtbd", 'd'},
	{"pmem", 'd'}, {"zram", 'd'}, {"ram", 'd'},
	{"root", 'e'}, {"cdrom", 'e'}, {"mem", 'e'}, {"kmem", 'e'}, {"port", 'e'},
}

// charDirs are the directories under /dev that hold no block device. Any
// other /dev/<dir>/<name> is taken as one: LVM names its volumes
// /dev/<volume group>/<logical volume>, with names of the admin's choosing.
var charDirs = set("fd", "pts", "shm", "mqueue", "hugepages", "net", "input", "snd", "dri", "bus",
	"char", "cpu", "usb", "vfio", "serial", "v4l", "dma_heap", "hidraw", "usb-ffs", "tty", "vc", "ptmx")

// set returns the set of items.
func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// deviceSamples are one name of each kind of blockDevices, to judge globs.
var deviceSamples = func() []string {
	out := make([]string, len(blockDevices))
	for i, d := range blockDevices {
		out[i] = "/dev/" + d.prefix
		switch d.next {
		case 'd', 'a':
			out[i] += "0"
		case 'l':
			out[i] += "a"
		}
	}
	return append(out, "/dev/vg0/lv0")
}()

// isBlockDevice reports whether the clean absolute path p names a block or
// memory device, or is a glob that may match one.
func isBlockDevice(p string) bool {
	if hasMeta(p) {
		for _, s := range deviceSamples {
			if ok, _ := path.Match(p, s); ok {
				return true
			}
		}
		return false
	}
	name, ok := strings.CutPrefix(p, "/dev/")
	if !ok {
		return false
	}
	if dir, _, ok := strings.Cut(name, "/"); ok && !charDirs[dir] {
		return true // /dev/<vg>/<lv>, /dev/mapper/..., /dev/disk/...
	}
	for _, d := range blockDevices {
		rest, ok := strings.CutPrefix(name, d.prefix)
		if !ok {
			continue
		}
		switch d.next {
		case 'a':
			return true
		case 'e':
			if rest == "" {
				return true
			}
		case 'd':
			if rest != "" && rest[0] >= '0' && rest[0] <= '9' {
				return true
			}
		case 'l':
			if rest != "" && rest[0] >= 'a' && rest[0] <= 'z' {
				return true
			}
		}
	}
	return false
}
