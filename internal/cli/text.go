package cli

import "strings"

// splitKeep splits text into lines, each keeping its newline (the last may
// have none).
func splitKeep(text string) []string {
	if text == "" {
		return nil
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// join joins lines split by splitKeep, ending with a newline.
func join(lines []string) string {
	s := strings.Join(lines, "")
	return s + newlineIfMissing(s)
}

func newlineIfMissing(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return "\n"
	}
	return ""
}
