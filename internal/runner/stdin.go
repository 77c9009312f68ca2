package runner

import (
	"fmt"
	"io"
	"os"
)

// input is a command's standard input: nothing (the null device, as
// exec.Cmd gives), or a pipe that a goroutine fills from the Spec's reader.
type input struct {
	src  io.Reader
	r, w *os.File
	done chan struct{} // closed when the copy has ended
}

func newInput(src io.Reader) (*input, error) {
	in := &input{src: src}
	if src == nil {
		return in, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	in.r, in.w = r, w
	return in, nil
}

// child is what the command's Stdin is set to.
func (in *input) child() io.Reader {
	if in.r == nil {
		return nil
	}
	return in.r
}

// started closes the child's end in this process and starts the copy: it
// ends at the reader's end of file (closing the command's input, so it
// reads end of file too), or when the command stops reading.
func (in *input) started() {
	if in.r == nil {
		return
	}
	in.r.Close()
	in.done = make(chan struct{})
	go func() {
		defer close(in.done)
		_, _ = io.Copy(in.w, in.src) // a command that exits early ends it with EPIPE
		in.w.Close()
	}()
}

// finish ends the copy once the command has ended and waits for it.
func (in *input) finish() {
	if in.w == nil {
		return
	}
	if in.done == nil { // never started
		in.r.Close()
	}
	in.w.Close() // a write in progress fails: nobody reads any more
	if c, ok := in.src.(io.Closer); ok {
		c.Close() // a read in progress ends
	}
	if in.done != nil {
		<-in.done
	}
}
