package runner

import (
	"os"
	"strconv"
	"strings"
)

// Alive reports whether process pid exists and is not a zombie. Tests use it
// to check that a kill reached everything.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
