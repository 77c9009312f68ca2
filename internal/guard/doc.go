// Package guard decides whether a shell command may run, from what its parsed
// syntax does (shell.Walk), and says which rule refused it and why.
//
// Threat model: the guard is a seat belt against accidents and prompt-injected
// commands (rm -rf /, a fork bomb, a write to /dev/sda), not a sandbox; the real
// boundary is NATS authentication, permissions and task signing, and a
// determined author can always hide a command from any static check.
//
// # What it looks at
//
// The guard is policy over what shell.Walk yields: every program a command
// invokes (through pipelines, lists, substitutions, bash -c strings, eval,
// heredocs into a shell, wrappers such as sudo, env and xargs, find -exec,
// and the commands a container or ssh runs), every file it redirects output
// to, every function it defines. The walk, and which spellings it follows,
// is described in package shell.
//
// # Rules
//
// Each refusal names one stable rule:
//
//   - parse: the command cannot be parsed (the shell would not accept it).
//   - complexity: past the guard's bounds: code over 64 KiB or with brackets
//     nested over 256 deep (the parser recurses per level, and a stack
//     overflow would kill the process), shell code in shell code over 8
//     deep, or a word with too many possible values where a rule needs them.
//   - rm-root: recursive delete of "/", a top-level system directory
//     (/usr, /etc, /var, /home, ...), a home directory (when the policy
//     protects homes, the default), or a glob over any of them (/*, ~/*),
//     relative targets resolved where they land (the task's working
//     directory, cd); also rm --no-preserve-root, find -delete or -exec rm
//     over such a directory (with no test, or any test over "/" or a system
//     directory), mv of one, and rsync --delete into one.
//   - unset-var: on a node, which knows the whole environment: a recursive
//     delete (or rsync --delete destination) starting with a variable
//     nothing sets, unless written ${X:?} (ShellCheck's SC2115).
//   - env: on a node, a task environment setting a variable with which the
//     shell or the loader runs code (BASH_ENV, LD_PRELOAD, ...), unless
//     Policy.AllowEnv names it.
//   - fork-bomb: a function that calls itself in a pipeline, in the
//     background or in a subshell (:(){ :|:& };:).
//   - block-device: a write to a block or memory device (disks, partitions,
//     device mapper and LVM volumes, loop, pmem, zram, ram, /dev/mem):
//     redirection, tee, dd of=, cp to it, shred of it.
//   - disk-format: mkfs and friends, wipefs, blkdiscard on a device, and
//     partition editors that write (fdisk, sfdisk, parted, gdisk, sgdisk).
//   - chmod-root: recursive chmod, chown or chgrp of a directory rm-root
//     protects.
//   - power: shutdown, reboot, halt, poweroff, init 0/6, systemctl
//     poweroff/reboot/... and isolate or start of their targets
//     (systemctl isolate reboot), writes to /proc/sysrq-trigger; lifted by
//     Policy.AllowPower.
//   - kill-all: kill with pid -1, killall5.
//   - crontab: crontab -r.
//   - allowlist, denylist: the node's per-program policy.
//
// # Where the guard runs
//
// A front end judges a task with what it can see (CheckTask); the node
// judges it again as it will run it (CheckOn, NodeCheck): in its working
// directory, with its environment over the node's.
//
// # Values the guard cannot see
//
// The guard follows literal values through variables assigned earlier in the
// same command (D=/; rm -rf "$D"), for loops, ${X:-default}, brace expansion
// and cd, and, judging a task, through the variables the task defines and
// its working directory. A word whose value it cannot know (a variable it
// does not see, a command substitution) is not judged: rm -rf "$DIR"/ is
// allowed where the environment is not known (Check, a front end), and
// refused on a node whose environment does not define DIR (rule unset-var),
// while rm -rf $X / is refused for its literal "/". A command held in a
// variable or an array ($RM /usr with RM="rm -rf") is judged as what it
// expands to. A program
// name it cannot know is refused in allow-list mode and otherwise checked as
// if it were rm when its arguments ask for a recursive forced delete of a
// protected directory ($CMD -rf /). Where the guard over-approximates (every
// assignment to a variable counts, whichever branch it is on) it errs toward
// refusing.
//
// # Judgment calls
//
// Arguments are data: echo rm -rf /, grep -r "rm -rf /" and man shutdown
// run. Reading a device (cat /dev/sda1, dd if=/dev/sda) is allowed; writing
// one is not. mkfs, mkswap and wipefs on a plain file (a disk image) are
// allowed, on anything under /dev or an unknown target refused. Commands
// for a container or another host (docker run ... rm -rf /, ssh host
// reboot) are judged by the built-in rules, since containers share the
// host's kernel and mounts and such commands have no legitimate use, but
// not by this node's allow and deny lists, which are about what runs here.
package guard
