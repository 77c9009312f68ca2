// Package sshexec runs fabric tasks on machines that run no worker, over SSH.
//
// A Pool keeps one SSH connection per host (golang.org/x/crypto/ssh) and opens
// a new session per command, so a command costs one round trip instead of a
// TCP connect, a key exchange and an authentication. Connections are kept
// alive with keepalive@openssh.com requests and redialled when they die.
//
// Security: hosts are checked against known_hosts with OpenSSH's accept-new
// semantics (a new host is recorded, a changed key is refused), and no local
// shell is ever involved: the remote side receives a small POSIX sh program
// on the session's standard input, in which every piece of the task (command,
// arguments, directory, environment) is a single-quoted literal.
//
// A task gets the treatment it would get on a worker node: the command runs
// under bash if the remote has it, else sh; argv runs with no shell; cwd and
// env apply; stdout and stderr are kept apart, capped and streamed; the
// timeout kills the whole remote process group. sshd starts every session in
// a session (and process group) of its own, whose id the remote program
// reports before it starts the command; a timeout or a cancellation kills
// that group through a second session, and a watchdog on the remote side
// kills it too should the connection be gone.
//
// Results follow the node's conventions: ExitCode is the command's exit
// status, or -1 when it did not exit normally; Signal is the name of the
// signal that ended it, spelled as Go's unix.SignalName does ("SIGKILL").
package sshexec
