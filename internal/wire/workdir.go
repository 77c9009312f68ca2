package wire

import (
	"path/filepath"
	"strings"
)

// WorkDir is the directory a task with working directory cwd runs in, on a
// node whose user's home is home and whose default directory is dflt (the
// home, unless the node is configured otherwise): the task contract. An
// empty cwd is dflt; "~" and "~/..." are under home (left as they are when
// home is not known); a relative path is taken from dflt.
func WorkDir(cwd, dflt, home string) string {
	switch {
	case cwd == "":
		return dflt
	case cwd == "~" || strings.HasPrefix(cwd, "~/"):
		if home != "" {
			return filepath.Join(home, cwd[1:])
		}
	case !filepath.IsAbs(cwd):
		return filepath.Join(dflt, cwd)
	}
	return cwd
}
