// Package shell reads shell commands for fabric: a parser bounded so that no
// command arriving from the bus can crash the process reading it (Parse), the
// tables of programs fabric knows (how heavy they are, which operating system
// or capability they need), and one walk that yields what a command line does
// (Walk, WalkArgv): every program it invokes, every file it redirects output
// to, every function it defines. The router infers a command's requirements
// from that walk and the command guard judges it; neither reads syntax.
//
// # What the walk looks at
//
// Every simple command the shell would run: those joined by ;, &&, || and
// pipelines, inside subshells, blocks, function bodies, if/for/while/case
// bodies, command and process substitutions, and strings the shell runs as
// code (bash -c, sh -c, eval, trap, alias, env -S, su -c, flock -c, watch,
// ssh's remote command, a shell's heredoc or herestring, echo/printf/cat
// piped into a shell), parsed recursively up to MaxDepth deep. It looks
// through prefixes that run another program (sudo, doas, pkexec, env, nice,
// nohup, time, command, exec, xargs, timeout, stdbuf, ionice, setsid,
// chroot, taskset, chrt, busybox and a few more), each with the options it
// really takes, and into find -exec. Commands for a container or another host
// (docker run ..., kubectl exec ..., ssh host ...) are yielded as remote
// invocations.
//
// # Values
//
// Each argument is known as the values it may take (Values): literal values
// are followed through variables assigned earlier in the same command
// (D=/; rm -rf "$D"), for loops, ${X:-default}, brace expansion and cd; a
// value the walk cannot see (a variable from the environment, a command
// substitution) is marked unknown. Where the walk over-approximates (every
// assignment to a variable counts, whichever branch it is on) it lists more
// values, never fewer.
//
// # Bounds
//
// A walk refuses (with an *Error wrapping ErrTooComplex) code over MaxCode
// bytes or nested over MaxNesting brackets, shell code in shell code over
// MaxDepth deep, and commands that expand past WorkBudget.
package shell
