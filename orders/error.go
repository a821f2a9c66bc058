package orders

import (
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an error.
type Code string

// Error codes. Only EINVALID, ENOTFOUND, ECONFLICT and EUNAVAILABLE carry a
// message meant for people; EINTERNAL errors are logged and shown as an apology.
const (
	EINVALID     Code = "invalid"
	ENOTFOUND    Code = "not_found"
	ECONFLICT    Code = "conflict"
	EUNAVAILABLE Code = "unavailable"
	EINTERNAL    Code = "internal"
)

// Error is an error that knows what an operator or a user may be told.
type Error struct {
	Code    Code
	Message string // safe to show, in English; dialog translates by Code and context
	Err     error  // the underlying cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of the first *Error in its chain,
// EINTERNAL for any other error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of err that is safe to show; internal errors
// get a generic one.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}
