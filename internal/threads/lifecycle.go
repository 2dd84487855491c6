package threads

import (
	"fmt"
	"strings"
)

// Request states. Unknown is a thread no event has applied to yet (one
// opened by a denied approve, say): auditfwd does not know the state.
const (
	Unknown  = ""
	Pending  = "pending"
	Approved = "approved"
	Rejected = "rejected"
	Expired  = "expired"
)

// The steps of a request's life, as its events name them (the gateway
// writes create, approve, reject, extend; its documentation also names
// created, approved, rejected, expired).
const (
	StepCreate  = "create"
	StepApprove = "approve"
	StepReject  = "reject"
	StepExtend  = "extend"
	StepExpire  = "expire"
)

// StepOf is the step an action names, or "" for one that is not a step
// auditfwd knows.
func StepOf(action string) string {
	switch strings.TrimPrefix(action, LifecyclePrefix) {
	case "create", "created":
		return StepCreate
	case "approve", "approved":
		return StepApprove
	case "reject", "rejected":
		return StepReject
	case "extend", "extended":
		return StepExtend
	case "expire", "expired":
		return StepExpire
	}
	return ""
}

// lifecycle is a request's life as the gateway enforces it: from each
// state, the steps that fit and the state each leads to. A step that is
// not listed for a state does not apply (docs/threads.md has the table).
// From Unknown every step fits: auditfwd did not see what came before, and
// a successful event is the gateway's word that it happened.
var lifecycle = map[string]map[string]string{
	Unknown:  {StepCreate: Pending, StepApprove: Approved, StepReject: Rejected, StepExtend: Approved, StepExpire: Expired},
	Pending:  {StepApprove: Approved, StepReject: Rejected},
	Approved: {StepExtend: Approved, StepExpire: Expired, StepReject: Rejected},
	Rejected: {},
	Expired:  {},
}

// transition is where a request in state goes with an event of step and
// status, or why the event does not apply (then the state stays). Only a
// successful event moves a request: a denied, failed or erroring one is an
// attempt that changed nothing at the gateway.
func transition(state, step, status string) (next, notApplied string) {
	switch {
	case status != "success" && status != "":
		return state, fmt.Sprintf("its status is %s; only a successful event changes the request", status)
	case status == "":
		return state, "it has no status; only a successful event changes the request"
	case step == "":
		return state, "auditfwd does not know this step of a request's life"
	}
	if to, ok := lifecycle[state][step]; ok {
		return to, ""
	}
	switch {
	case step == StepCreate:
		return state, "the request was already opened"
	case state == Pending:
		return state, "nobody has approved the request"
	case state == Approved:
		return state, "the request is already approved"
	case state == Rejected:
		return state, "the request was rejected"
	}
	return state, "the request has expired"
}
