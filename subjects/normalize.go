package subjects

import (
	"fmt"
	"strings"
)

// Token turns an arbitrary name (a hostname, say) into a valid token, stably:
// letters are lowercased, every run of characters outside [a-z0-9_-] becomes
// one '-', leading and trailing '-' are dropped, and the result is cut to
// MaxTokenLen. "Marcs-Mac-Studio.local" becomes "marcs-mac-studio-local".
// A name with nothing usable in it becomes "node".
func Token(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	dash := false
	for _, r := range strings.ToLower(name) {
		if r < 0x80 && tokenByte(byte(r)) && r != '-' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	t := b.String()
	if len(t) > MaxTokenLen {
		t = strings.TrimRight(t[:MaxTokenLen], "-")
	}
	if t == "" {
		return "node"
	}
	return t
}

var osAliases = map[string]string{
	"macos":  "darwin",
	"mac":    "darwin",
	"osx":    "darwin",
	"macosx": "darwin",
	"win":    "windows",
}

var archAliases = map[string]string{
	"x86_64":  "amd64",
	"x86-64":  "amd64",
	"x64":     "amd64",
	"aarch64": "arm64",
	"arm64e":  "arm64",
	"armv8":   "arm64",
	"i386":    "386",
	"i686":    "386",
	"x86":     "386",
	"armv7l":  "arm",
	"armv7":   "arm",
	"armv6l":  "arm",
}

// NormalizeOS maps an operating-system name to Go's GOOS spelling ("macos",
// "osx" and "Darwin" become "darwin") and checks it is a valid token.
func NormalizeOS(os string) (string, error) {
	return normalize("os", os, osAliases)
}

// NormalizeArch maps a CPU architecture name to Go's GOARCH spelling
// ("x86_64" becomes "amd64"; "aarch64" and "arm64e" become "arm64") and checks
// it is a valid token.
func NormalizeArch(arch string) (string, error) {
	return normalize("arch", arch, archAliases)
}

// NormalizeCapability lowercases a capability name and checks it is a valid
// token.
func NormalizeCapability(capability string) (string, error) {
	return normalize("capability", capability, nil)
}

func normalize(what, v string, aliases map[string]string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if a, ok := aliases[v]; ok {
		v = a
	}
	if err := ValidToken(v); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}
