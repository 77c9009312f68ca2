package cli

import (
	"fmt"
	"io"
	"os"
)

// stdinNotice is printed when input waits on fabric's standard input and
// -i was not given: the node runs the command with its standard input on
// /dev/null, so the input would be lost without a word.
const stdinNotice = "fabric: standard input is not forwarded without -i: the command reads nothing on the node (pass -i to forward it)\n"

// pendingInput reports whether r is a file with input already waiting: a
// regular file with bytes past its offset, or a pipe with bytes in it. A
// terminal, /dev/null or an empty pipe is not (input that arrives later
// goes unnoticed: this is a courtesy, not a guarantee).
func pendingInput(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok || f == nil {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	switch m := st.Mode(); {
	case m.IsRegular():
		off, err := f.Seek(0, io.SeekCurrent)
		return err == nil && off < st.Size()
	case m&os.ModeNamedPipe != 0:
		return pipeBuffered(f) > 0
	}
	return false
}

// noticeStdin says so on stderr when input waits on standard input, which
// run and submit forward only with -i.
func (a *app) noticeStdin() {
	if pendingInput(a.io.Stdin) {
		fmt.Fprint(a.io.Stderr, stdinNotice)
	}
}
