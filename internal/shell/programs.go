package shell

// How heavy a program is and where it exists: the router's tables for
// placing a command by the programs it invokes.

// Weight is how heavy a program is to run.
type Weight int

// The weights. Light programs are quick and read-only (ls, cat, echo);
// heavy ones are builds, tests, compilers, containers and bulk file work.
const (
	Normal Weight = iota // anything else
	Light
	Heavy
)

var lightPrograms = set("ls", "pwd", "cd", "echo", "printf", "cat", "head", "tail", "which", "type", "true", "false",
	"date", "whoami", "hostname", "uname", "id", "env", "printenv", "wc", "stat", "file", "basename", "dirname",
	"realpath", "readlink", "test", "[", "sleep", "df", "du", "free", "uptime", "ps", "export", "exit", ":")

var heavyPrograms = set("make", "cmake", "ninja", "bazel", "cargo", "rustc", "npm", "yarn", "pnpm", "npx", "pytest",
	"tox", "jest", "mocha", "vitest", "gcc", "g++", "cc", "c++", "clang", "clang++", "javac", "mvn", "gradle", "tsc",
	"docker", "podman", "kubectl", "helm", "rsync", "scp", "tar", "zip", "unzip", "gzip", "xz", "zstd", "find",
	"swift", "xcodebuild", "go", "ffmpeg", "dotnet", "terraform", "ansible-playbook", "ollama", "bun", "deno")

// osPrograms are programs that exist on one operating system only.
var osPrograms = map[string]string{
	"swift": "darwin", "xcodebuild": "darwin", "xcrun": "darwin", "codesign": "darwin", "launchctl": "darwin",
	"sw_vers": "darwin", "pbcopy": "darwin", "softwareupdate": "darwin",
	"apt": "linux", "apt-get": "linux", "dpkg": "linux", "systemctl": "linux", "journalctl": "linux",
	"yum": "linux", "dnf": "linux", "apk": "linux",
}

// WeightOf returns how heavy the program name (a base name) is.
func WeightOf(name string) Weight {
	switch {
	case heavyPrograms[name]:
		return Heavy
	case lightPrograms[name]:
		return Light
	}
	return Normal
}

// OSOf returns the operating system the program name (a base name) exists
// on, when it exists on one only.
func OSOf(name string) (string, bool) {
	os, ok := osPrograms[name]
	return os, ok
}

// set returns the set of items.
func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}
