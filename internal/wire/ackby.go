package wire

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// HeaderAckBy carries, on a task a front end offers to one node, the time by
// which the node must have acked it, in the node's own clock as the front end
// best knows it (Unix nanoseconds). After that the front end has given up on
// the node and sent the task elsewhere, so a node that only now reads the
// task (it was stopped, swapped out or cut off with the task in its
// connection) must refuse it: running it would run it twice.
const HeaderAckBy = "Fabric-Ack-By"

// AckLate is the ack status of a task that reached its node after its ack
// deadline (HeaderAckBy); like busy, it says the task did not start there.
const AckLate AckStatus = "late"

// ErrLate is the error kind of a task refused for arriving after its ack
// deadline.
const ErrLate ErrorKind = "late"

// SetAckBy sets msg's ack deadline.
func SetAckBy(msg *nats.Msg, by time.Time) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header[HeaderAckBy] = []string{strconv.FormatInt(by.UnixNano(), 10)}
}

// AckBy returns msg's ack deadline; ok is false when it has none (tasks from
// people and scripts) or it is not a number.
func AckBy(msg *nats.Msg) (by time.Time, ok bool) {
	if msg.Header == nil {
		return time.Time{}, false
	}
	v := msg.Header.Get(HeaderAckBy)
	if v == "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// HeaderOffer names one offer of a task to one node (a front end may offer a
// task to the same node again later, after busy). A cancel that names the
// offer (Cancel.Offer) stops only that offer: a later one still runs.
const HeaderOffer = "Fabric-Offer"

// SetOffer sets msg's offer token.
func SetOffer(msg *nats.Msg, token string) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header[HeaderOffer] = []string{token}
}

// Offer returns msg's offer token, "" if it has none.
func Offer(msg *nats.Msg) string {
	if msg.Header == nil {
		return ""
	}
	return msg.Header.Get(HeaderOffer)
}
