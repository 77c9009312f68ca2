package guard

import (
	"errors"
	"strings"
	"testing"

	"github.com/fabric-run/fabric/internal/shell"
)

// refusedCases maps a case name to a command and the rule that must refuse it.
var refusedCases = []struct {
	name, cmd, rule string
}{
	// rm-root: the pattern and its spellings.
	{"rm -rf /", "rm -rf /", RuleRmRoot},
	{"rm -fr /", "rm -fr /", RuleRmRoot},
	{"rm -r -f /", "rm -r -f /", RuleRmRoot},
	{"rm -Rf /", "rm -Rf /", RuleRmRoot},
	{"rm --recursive --force /", "rm --recursive --force /", RuleRmRoot},
	{"abbreviated long options", "rm --rec --forc /", RuleRmRoot},
	{"rm -rf /*", "rm -rf /*", RuleRmRoot},
	{"quoted glob", `rm -rf "/*"`, RuleRmRoot},
	{"no-preserve-root", "rm -rf --no-preserve-root /", RuleRmRoot},
	{"no-preserve-root alone", `rm --no-preserve-root -r "$X"`, RuleRmRoot},
	{"sudo", "sudo rm -rf /", RuleRmRoot},
	{"sudo with options", "sudo -u root -E -- rm -rf /", RuleRmRoot},
	{"double dash", "rm -rf -- /", RuleRmRoot},
	{"options after operand", "rm / -rf", RuleRmRoot},
	{"slash dot", "rm -rf /.", RuleRmRoot},
	{"double slash", "rm -rf //", RuleRmRoot},
	{"dot dot", "rm -rf /usr/..", RuleRmRoot},
	{"escaped", `rm -rf \/`, RuleRmRoot},
	{"ansi-c quoted", `rm -rf $'\x2f'`, RuleRmRoot},
	{"escaped rm", `\rm -rf /`, RuleRmRoot},
	{"rm by path", "/bin/rm -rf /", RuleRmRoot},
	{"tilde", "rm -rf ~", RuleRmRoot},
	{"tilde slash", "rm -rf ~/", RuleRmRoot},
	{"tilde glob", "rm -rf ~/*", RuleRmRoot},
	{"tilde dotfiles", "rm -rf ~/.*", RuleRmRoot},
	{"tilde other user", "rm -rf ~alice", RuleRmRoot},
	{"HOME", "rm -rf $HOME", RuleRmRoot},
	{"HOME braces", "rm -rf ${HOME}", RuleRmRoot},
	{"HOME quoted slash", `rm -rf "$HOME"/`, RuleRmRoot},
	{"above home", "rm -rf ~/..", RuleRmRoot},
	{"home dir by path", "rm -rf /home/alice", RuleRmRoot},
	{"mac home dir", "rm -rf /Users/bob/", RuleRmRoot},
	{"every home", "rm -rf /home/*/*", RuleRmRoot},
	{"/usr", "rm -rf /usr", RuleRmRoot},
	{"/etc", "rm -rf /etc", RuleRmRoot},
	{"/bin", "rm -rf /bin/", RuleRmRoot},
	{"/boot", "rm -rf /boot", RuleRmRoot},
	{"/var", "rm -rf /var", RuleRmRoot},
	{"/home", "rm -rf /home", RuleRmRoot},
	{"contents of /usr", "rm -rf /usr/*", RuleRmRoot},
	{"glob matching /usr", "rm -rf /u*", RuleRmRoot},
	{"case folded", "rm -rf /USR", RuleRmRoot},
	{"brace expansion", "rm -rf /{tmp/x,etc}", RuleRmRoot},
	{"brace sequence", "rm -rf /{a..z}*", RuleRmRoot},
	{"recursive without force", "rm -r /etc", RuleRmRoot},
	{"literal target beside unknown", "rm -rf $X /", RuleRmRoot},
	{"unknown options", "rm $OPTS /", RuleRmRoot},
	{"unknown program", "$CMD -rf /", RuleRmRoot},
	{"doas", "doas rm -rf /", RuleRmRoot},
	{"env", "env -i FOO=1 rm -rf /", RuleRmRoot},
	{"env -S", "env -S 'rm -rf /'", RuleRmRoot},
	{"nice", "nice -n 10 rm -rf /", RuleRmRoot},
	{"nohup", "nohup rm -rf / &", RuleRmRoot},
	{"time keyword", "time rm -rf /", RuleRmRoot},
	{"time program", "/usr/bin/time -v rm -rf /", RuleRmRoot},
	{"command", "command rm -rf /", RuleRmRoot},
	{"exec", "exec rm -rf /", RuleRmRoot},
	{"xargs", "echo | xargs rm -rf /", RuleRmRoot},
	{"xargs with options", "xargs -0 -n 1 -I{} rm -rf /", RuleRmRoot},
	{"timeout", "timeout -s KILL 10 rm -rf /", RuleRmRoot},
	{"stacked prefixes", "sudo nice nohup timeout 5 env A=1 rm -rf /", RuleRmRoot},
	{"busybox", "busybox rm -rf /", RuleRmRoot},
	{"bash -c", "bash -c 'rm -rf /'", RuleRmRoot},
	{"sh -c double quotes", `sh -c "rm -rf /"`, RuleRmRoot},
	{"bash -lc", "bash -lc 'cd /tmp && rm -rf /'", RuleRmRoot},
	{"bash -c nested", `bash -c "sh -c 'rm -rf /'"`, RuleRmRoot},
	{"sudo bash -c", "sudo bash -c 'rm -rf /'", RuleRmRoot},
	{"zsh -c", "zsh -c 'rm -rf /'", RuleRmRoot},
	{"eval", "eval 'rm -rf /'", RuleRmRoot},
	{"eval joined", "eval rm -rf /", RuleRmRoot},
	{"trap", "trap 'rm -rf /' EXIT", RuleRmRoot},
	{"alias", "alias x='rm -rf /'", RuleRmRoot},
	{"su -c", "su -c 'rm -rf /' root", RuleRmRoot},
	{"runuser", "runuser -u root -- rm -rf /", RuleRmRoot},
	{"flock", "flock /tmp/l rm -rf /", RuleRmRoot},
	{"flock -c", "flock /tmp/l -c 'rm -rf /'", RuleRmRoot},
	{"watch", "watch -n 1 rm -rf /", RuleRmRoot},
	{"heredoc into bash", "bash <<'EOF'\nrm -rf /\nEOF", RuleRmRoot},
	{"heredoc into sh -s", "sh -s <<EOF\necho hi\nrm -rf /\nEOF", RuleRmRoot},
	{"herestring into bash", `bash <<< "rm -rf /"`, RuleRmRoot},
	{"echo into sh", "echo 'rm -rf /' | sh", RuleRmRoot},
	{"printf into bash", `printf 'cd /tmp\nrm -rf /\n' | bash`, RuleRmRoot},
	{"cat heredoc into bash", "cat <<EOF | sudo bash\nrm -rf /\nEOF", RuleRmRoot},
	{"ssh", "ssh -p 22 host rm -rf /", RuleRmRoot},
	{"ssh quoted", "ssh host 'rm -rf ~'", RuleRmRoot},
	{"docker run", "docker run --rm alpine rm -rf /", RuleRmRoot},
	{"kubectl exec", "kubectl exec pod -- sh -c 'rm -rf /'", RuleRmRoot},
	{"find -delete", "find / -delete", RuleRmRoot},
	{"find -exec", "find / -exec rm -rf {} +", RuleRmRoot},
	{"command substitution", "echo $(rm -rf /)", RuleRmRoot},
	{"backticks", "echo `rm -rf /`", RuleRmRoot},
	{"substitution in quotes", `git commit -m "$(rm -rf /)"`, RuleRmRoot},
	{"process substitution", "diff <(rm -rf /) x", RuleRmRoot},
	{"pipeline", "ls | rm -rf /", RuleRmRoot},
	{"and", "make && rm -rf /", RuleRmRoot},
	{"or", "false || rm -rf /", RuleRmRoot},
	{"semicolon", "cd /tmp; rm -rf /", RuleRmRoot},
	{"newline", "echo hi\nrm -rf /", RuleRmRoot},
	{"subshell", "(rm -rf /)", RuleRmRoot},
	{"block", "{ rm -rf /; }", RuleRmRoot},
	{"function body", "f() { rm -rf /; }", RuleRmRoot},
	{"if body", "if true; then rm -rf /; fi", RuleRmRoot},
	{"else body", "if false; then :; else rm -rf /; fi", RuleRmRoot},
	{"for body", "for i in 1 2; do rm -rf /; done", RuleRmRoot},
	{"while body", "while true; do rm -rf /; done", RuleRmRoot},
	{"case body", "case x in x) rm -rf /;; esac", RuleRmRoot},
	{"negated", "! rm -rf /", RuleRmRoot},
	{"in assignment", "x=$(rm -rf /)", RuleRmRoot},
	{"in local", "f() { local x=$(rm -rf /); }", RuleRmRoot},
	{"in arithmetic", "echo $(( $(rm -rf /) + 1 ))", RuleRmRoot},
	{"in test", `[[ -n "$(rm -rf /)" ]]`, RuleRmRoot},
	{"in redirect target", "echo > $(rm -rf /)", RuleRmRoot},
	{"in default", `echo "${X:-$(rm -rf /)}"`, RuleRmRoot},
	{"variable", `D=/; rm -rf "$D"`, RuleRmRoot},
	{"variable with slash", `D=; rm -rf "$D"/`, RuleRmRoot},
	{"variable in branch", `D=build; if x; then D=/; fi; rm -rf $D`, RuleRmRoot},
	{"for loop variable", "for d in /tmp/a /etc; do rm -rf $d; done", RuleRmRoot},
	{"default value", "rm -rf ${DIR:-/}", RuleRmRoot},
	{"word splitting", `T="/tmp/x /"; rm -rf $T`, RuleRmRoot},
	{"array", `dirs=(/tmp/x /usr); rm -rf "${dirs[@]}"`, RuleRmRoot},
	{"exported to bash -c", `X=/ bash -c 'rm -rf $X'`, RuleRmRoot},
	{"cd then glob", "cd / && rm -rf *", RuleRmRoot},
	{"cd home then glob", "cd && rm -rf *", RuleRmRoot},
	{"cd then relative", "cd /usr; rm -rf ../etc", RuleRmRoot},
	{"HOME reassigned", "HOME=/; rm -rf ~", RuleRmRoot},

	// fork-bomb.
	{"classic fork bomb", ":(){ :|:& };:", RuleForkBomb},
	{"renamed", "bomb() { bomb | bomb & }; bomb", RuleForkBomb},
	{"background only", "f() { f & f; }; f", RuleForkBomb},
	{"function keyword", "function b { b|b& }; b", RuleForkBomb},
	{"subshell body", "f() ( f | f & ); f", RuleForkBomb},
	{"command substitution bomb", "f() { echo $(f) $(f); }; f", RuleForkBomb},
	{"definition alone", ":(){ :|:& }", RuleForkBomb},
	{"in bash -c", "bash -c ':(){ :|:& };:'", RuleForkBomb},

	// block-device.
	{"redirect to sda", "echo x > /dev/sda", RuleBlockDevice},
	{"append to nvme", "cat img >> /dev/nvme0n1", RuleBlockDevice},
	{"vda", "cat img > /dev/vda", RuleBlockDevice},
	{"partition", "cat img > /dev/sdb1", RuleBlockDevice},
	{"xvd", "cat img > /dev/xvda", RuleBlockDevice},
	{"mac disk", "cat img > /dev/disk2", RuleBlockDevice},
	{"mac raw disk", "cat img > /dev/rdisk2", RuleBlockDevice},
	{"disk by id", "cat img > /dev/disk/by-id/ata-X", RuleBlockDevice},
	{"mmcblk", "cat img > /dev/mmcblk0", RuleBlockDevice},
	{"md", "cat img > /dev/md0", RuleBlockDevice},
	{"dm", "cat img > /dev/dm-0", RuleBlockDevice},
	{"mapper", "cat img > /dev/mapper/vg-root", RuleBlockDevice},
	{"mem", "cat x > /dev/mem", RuleBlockDevice},
	{"all output", "make &> /dev/sda", RuleBlockDevice},
	{"clobber", "echo >| /dev/sda", RuleBlockDevice},
	{"read-write open", "exec 3<> /dev/sda", RuleBlockDevice},
	{"dup to a path", "echo >& /dev/sda", RuleBlockDevice},
	{"glob device", "echo x > /dev/sd*", RuleBlockDevice},
	{"redirect on a block", "{ echo x; } > /dev/sda", RuleBlockDevice},
	{"cd then relative device", "cd /dev && echo x > sda", RuleBlockDevice},
	{"variable device", "D=/dev/sda; echo x > $D", RuleBlockDevice},
	{"tee", "echo x | tee /dev/sda", RuleBlockDevice},
	{"sudo tee", "echo x | sudo tee -a /tmp/log /dev/sda", RuleBlockDevice},
	{"dd of", "dd if=/dev/zero of=/dev/sda bs=1M", RuleBlockDevice},
	{"dd of nvme", "sudo dd if=img of=/dev/nvme0n1", RuleBlockDevice},
	{"cp to device", "cp disk.img /dev/sdb", RuleBlockDevice},
	{"shred device", "shred -n 1 /dev/sda", RuleBlockDevice},

	// disk-format.
	{"mkfs", "mkfs /dev/sdb1", RuleDiskFormat},
	{"mkfs -t", "mkfs -t ext4 /dev/sdb1", RuleDiskFormat},
	{"mkfs.ext4", "mkfs.ext4 /dev/sda1", RuleDiskFormat},
	{"mkfs.xfs forced", "sudo mkfs.xfs -f /dev/nvme0n1p1", RuleDiskFormat},
	{"mke2fs", "mke2fs -t ext4 /dev/sdb1", RuleDiskFormat},
	{"mkswap", "mkswap /dev/sda2", RuleDiskFormat},
	{"wipefs", "wipefs -a /dev/sdb", RuleDiskFormat},
	{"blkdiscard", "blkdiscard /dev/nvme0n1", RuleDiskFormat},
	{"mkfs unknown target", `mkfs.ext4 "$DEV"`, RuleDiskFormat},
	{"mkfs lvm volume", "mkfs.ext4 /dev/vg0/data", RuleDiskFormat},
	{"fdisk", "fdisk /dev/sda", RuleDiskFormat},
	{"sfdisk write", "sfdisk /dev/sda < layout", RuleDiskFormat},
	{"parted mklabel", "parted -s /dev/sda mklabel gpt", RuleDiskFormat},
	{"parted abbreviated", "parted -s /dev/sda mkl gpt", RuleDiskFormat},
	{"parted interactive", "parted /dev/sda", RuleDiskFormat},
	{"sgdisk zap", "sgdisk -Z /dev/sda", RuleDiskFormat},
	{"diskutil", "diskutil eraseDisk APFS X disk2", RuleDiskFormat},
	{"nvme format", "nvme format /dev/nvme0n1", RuleDiskFormat},
	{"cryptsetup", "cryptsetup luksFormat /dev/sdb", RuleDiskFormat},

	// chmod-root.
	{"chmod -R 777 /", "chmod -R 777 /", RuleChmodRoot},
	{"chown -R", "chown -R x /", RuleChmodRoot},
	{"chown user:group /usr", "sudo chown -R me:me /usr", RuleChmodRoot},
	{"chgrp", "chgrp -R staff /etc", RuleChmodRoot},
	{"chmod long", "chmod --recursive a+w /", RuleChmodRoot},
	{"chmod cluster", "chmod -Rv 000 /*", RuleChmodRoot},
	{"chmod home", "chmod -R 777 ~", RuleChmodRoot},

	// power.
	{"shutdown", "shutdown -h now", RulePower},
	{"reboot", "reboot", RulePower},
	{"sudo reboot", "sudo reboot", RulePower},
	{"halt", "halt", RulePower},
	{"poweroff", "/sbin/poweroff", RulePower},
	{"init 0", "init 0", RulePower},
	{"init 6", "init 6", RulePower},
	{"telinit", "telinit 6", RulePower},
	{"systemctl poweroff", "systemctl poweroff", RulePower},
	{"systemctl reboot forced", "systemctl --force reboot", RulePower},
	{"systemctl halt", "sudo systemctl halt", RulePower},
	{"systemctl suspend", "systemctl suspend", RulePower},
	{"systemctl isolate", "systemctl isolate reboot.target", RulePower},
	{"loginctl", "loginctl reboot", RulePower},
	{"sysrq", "echo b > /proc/sysrq-trigger", RulePower},
	{"reboot in bash -c", "bash -c 'sleep 1; reboot'", RulePower},

	// parse.
	{"unterminated quote", `echo "oops`, RuleParse},
	{"unbalanced paren", "(echo", RuleParse},
	{"bad bash -c", `bash -c 'echo "x'`, RuleParse},
	{"stray fi", "fi", RuleParse},

	// complexity.
	{"nested too deep", nestedEval("rm -rf /tmp/x", shell.MaxDepth+1), RuleComplexity},
}

// allowedCases are near misses: commands that look like a rule's pattern and
// must run.
var allowedCases = []struct {
	name, cmd string
}{
	{"empty", ""},
	{"comment", "# rm -rf /"},
	{"relative build", "rm -rf ./build"},
	{"trailing slash", "rm -rf build/"},
	{"tmp", "rm -rf /tmp/x"},
	{"tmp glob", "rm -rf /tmp/*"},
	{"under usr", "rm -rf /usr/local/lib/foo"},
	{"under home", "rm -rf ~/.cache/go-build"},
	{"home subdir", `rm -rf "$HOME/projects/old"`},
	{"top-level glob matching nothing protected", "rm -rf /tmp*"},
	{"non-recursive", "rm -f /etc/foo.conf"},
	{"non-recursive glob", "rm /*.log"},
	{"echo quoted", "echo 'rm -rf /'"},
	{"echo words", "echo rm -rf /"},
	{"printf", `printf '%s\n' 'rm -rf /'`},
	{"grep", `grep -r "rm -rf /" .`},
	{"unknown dir", `rm -rf "$DIR"/`},
	{"unknown dir guarded", `rm -rf "${DIR:?}"/*`},
	{"known dir", `DIR=build; rm -rf "$DIR"/`},
	{"quoted tilde is a name", `rm -rf "~"`},
	{"read block device", "cat /dev/sda1 | head"},
	{"dd read device", "dd if=/dev/sda of=./disk.img bs=1M"},
	{"dev null", "ls > /dev/null"},
	{"dev null all", "make &> /dev/null"},
	{"stderr", "echo oops >&2"},
	{"close fd", "exec 3>&-"},
	{"dev stdout", "echo x > /dev/stdout"},
	{"dev stderr", "echo x > /dev/stderr"},
	{"dev tty", "echo x > /dev/tty"},
	{"dev fd", "echo x > /dev/fd/3"},
	{"dev shm", "echo x > /dev/shm/lock"},
	{"serial port", "echo AT > /dev/ttyUSB0"},
	{"zero read", "dd if=/dev/zero of=./file bs=1M count=1"},
	{"zero redirect read", "head -c 10 < /dev/zero"},
	{"tee file", "echo x | tee out.log"},
	{"tee dev null", "echo x | tee /dev/null"},
	{"cp from device", "cp /dev/sda backup.img"},
	{"shred file", "shred -u secret.txt"},
	{"chmod dist", "chmod -R 755 ./dist"},
	{"chown relative", "chown -R me ./x"},
	{"chmod root non-recursive file", "chmod 644 /etc/motd"},
	{"chmod under usr", "sudo chmod -R a+rX /usr/local/share/app"},
	{"git commit reboot", `git commit -m "reboot"`},
	{"git message rm", `git commit -m "rm -rf / is bad"`},
	{"man shutdown", "man shutdown"},
	{"which reboot", "which reboot"},
	{"command -v", "command -v shutdown"},
	{"reboot_check function", "reboot_check() { uptime; }; reboot_check"},
	{"shutdown cancel", "shutdown -c"},
	{"systemctl restart", "systemctl restart nginx"},
	{"systemctl status reboot", "systemctl status reboot.target"},
	{"make clean", "make clean"},
	{"build", "cd /src && make -j8 && go test ./..."},
	{"nested as deep as allowed", nestedEval("rm -rf /tmp/x", shell.MaxDepth)},
	{"mkfs image file", "mkfs.ext4 -F -L root rootfs.img"},
	{"mkswap file", "mkswap /swapfile"},
	{"fdisk list", "sudo fdisk -l"},
	{"fdisk list device", "fdisk -l /dev/sda"},
	{"sfdisk dump", "sfdisk -d /dev/sda > table.txt"},
	{"parted print", "parted /dev/sda print"},
	{"parted list", "parted -l"},
	{"sgdisk print", "sgdisk -p /dev/sda"},
	{"lsblk", "lsblk /dev/sda"},
	{"plain recursion", "f() { f; }"},
	{"pipeline to another function", "a() { b | c & }; a"},
	{"bash script file", "bash ./deploy.sh /"},
	{"bash -c safe", "bash -c 'make test'"},
	{"bash -c unknown", `bash -c "$CMD"`},
	{"find build delete", "find ./build -name '*.o' -delete"},
	{"find root filtered", "find / -name core -type f -delete"},
	{"find filtered exec", "find / -name '*.pyc' -exec rm -f {} +"},
	{"xargs unknown targets", "find . -name '*.tmp' | xargs rm -rf"},
	{"ssh safe", "ssh host uptime"},
	{"docker safe", "docker run --rm alpine ls /"},
	{"docker rm container", "docker rm -f web"},
	{"kubectl delete", "kubectl delete pod x"},
	{"cd tmp then glob", "cd /tmp/build && rm -rf *"},
	{"cd unknown then glob", `cd "$WORK" && rm -rf *`},
	{"subshell cd does not leak", "(cd /tmp/x) && rm -rf build"},
	{"rm dash file", "rm -rf -- -weird-name"},
	{"env safe", "env FOO=1 make"},
	{"sudo safe", "sudo -u deploy make install"},
	{"timeout safe", "timeout 10 curl -s http://x"},
	{"echo into cat", "echo 'rm -rf /' | cat"},
	{"heredoc into cat", "cat <<EOF\nrm -rf /\nEOF"},
	{"heredoc into bash file", "bash ./x.sh <<EOF\nrm -rf /\nEOF"},
	{"trap cleanup", `trap 'rm -rf "$tmp"' EXIT`},
	{"init reload", "init q"},
	{"dollar single quote", `echo $'a\tb'`},
	{"arithmetic", "echo $((1+2))"},
	{"brace list", "mkdir -p src/{a,b,c}"},
	{"brace in rm", "rm -rf build/{obj,bin}"},
	{"case pattern", "case $x in /) echo root;; esac"},
	{"test root", `[ -d / ] && echo yes`},
	{"ls root", "ls -la /"},
	{"du root", "du -sh /*"},
	{"rsync", "rsync -a ./dist/ host:/srv/app/"},
}

// nestedEval puts cmd n levels of shell code deep: each eval parses the rest
// as code once more.
func nestedEval(cmd string, n int) string {
	return strings.Repeat("eval ", n) + cmd
}

func TestCheckRefuses(t *testing.T) {
	g := mustNew(t, Policy{})
	for _, tc := range refusedCases {
		t.Run(tc.name, func(t *testing.T) {
			err := g.Check(tc.cmd)
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Check(%q) = %v, want refusal by rule %q", tc.cmd, err, tc.rule)
			}
			if r.Rule != tc.rule {
				t.Fatalf("Check(%q) = %v, want rule %q", tc.cmd, err, tc.rule)
			}
			if !errors.Is(err, ErrRefused) {
				t.Errorf("errors.Is(Check(%q), ErrRefused) = false, want true", tc.cmd)
			}
		})
	}
}

func TestCheckAllows(t *testing.T) {
	g := mustNew(t, Policy{})
	for _, tc := range allowedCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := g.Check(tc.cmd); err != nil {
				t.Fatalf("Check(%q) = %v, want nil", tc.cmd, err)
			}
		})
	}
}

// mustNew returns a Guard for p or fails the test.
func mustNew(tb testing.TB, p Policy) *Guard {
	tb.Helper()
	g, err := New(p)
	if err != nil {
		tb.Fatalf("New(%+v) = %v", p, err)
	}
	return g
}
