package ecr

/*
#include <ecr.h>
*/
import "C"

import "fmt"

// Error is a failure reported by libecr: the ECR_E* code, its name, and the
// message of ecr_error_last() read on the thread that failed.
type Error struct {
	Code    ErrorCode
	Class   ErrorClass
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name()
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Name())
}

// Name is the code's C name, e.g. "ECR_EREPOSITORY_NOT_FOUND".
func (e *Error) Name() string { return C.GoString(C.ecr_error_name(C.int(e.Code))) }

// Exception is the Amazon ECR exception of the code, e.g. "RepositoryNotFoundException".
func (e *Error) Exception() string { return C.GoString(C.ecr_error_exception(C.int(e.Code))) }

// Category is the general code the code belongs to (ENOTFOUND for EIMAGE_NOT_FOUND).
func (e *Error) Category() ErrorCode { return ErrorCode(C.ecr_error_category(C.int(e.Code))) }

// Is makes errors.Is(err, ErrNotFound) true for every code of that category,
// and errors.Is(err, ErrRepositoryNotFound) true for that code only.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code || t.Code == e.Category()
}

// lastError builds the *Error of a negative rc; the caller has the OS thread locked.
func lastError(rc C.int) error {
	last := C.ecr_error_last()
	e := &Error{Code: ErrorCode(rc)}
	if last != nil && last.code == rc {
		e.Message = C.GoString(last.message)
		e.Class = ErrorClass(last.klass)
	}
	return e
}

// Sentinels for errors.Is. The general ones match every specific code of
// their category (ecr_error_category).
var (
	ErrGeneric                = &Error{Code: ERROR}
	ErrNotFound               = &Error{Code: ENOTFOUND}
	ErrExists                 = &Error{Code: EEXISTS}
	ErrInvalid                = &Error{Code: EINVALID}
	ErrImmutable              = &Error{Code: EIMMUTABLE}
	ErrDigest                 = &Error{Code: EDIGEST}
	ErrLimit                  = &Error{Code: ELIMIT}
	ErrAuth                   = &Error{Code: EAUTH}
	ErrDenied                 = &Error{Code: EDENIED}
	ErrUpload                 = &Error{Code: EUPLOAD}
	ErrUser                   = &Error{Code: EUSER}
	ErrNoMemory               = &Error{Code: ENOMEM}
	ErrIO                     = &Error{Code: EIO}
	ErrRange                  = &Error{Code: ERANGE}
	ErrUnsupported            = &Error{Code: EUNSUPPORTED}
	ErrBusy                   = &Error{Code: EBUSY}
	ErrRepositoryNotFound     = &Error{Code: EREPOSITORY_NOT_FOUND}
	ErrRepositoryExists       = &Error{Code: EREPOSITORY_EXISTS}
	ErrRepositoryNotEmpty     = &Error{Code: EREPOSITORY_NOT_EMPTY}
	ErrImageNotFound          = &Error{Code: EIMAGE_NOT_FOUND}
	ErrImageExists            = &Error{Code: EIMAGE_EXISTS}
	ErrLayersNotFound         = &Error{Code: ELAYERS_NOT_FOUND}
	ErrValidation             = &Error{Code: EVALIDATION}
	ErrLifecyclePolicyMissing = &Error{Code: ELIFECYCLE_POLICY_NOT_FOUND}
	ErrIterOver               = &Error{Code: ITEROVER} // an iterator's Next at the end
	ErrNetwork                = &Error{Code: ENETWORK}
	ErrNotSupported           = &Error{Code: ENOTSUPPORTED}
	ErrThrottled              = &Error{Code: ETHROTTLED}
	ErrTemplateExists         = &Error{Code: ETEMPLATE_EXISTS}
	ErrTemplateNotFound       = &Error{Code: ETEMPLATE_NOT_FOUND}
	ErrPullThroughRuleExists  = &Error{Code: EPTC_RULE_EXISTS}
	ErrPullThroughRuleMissing = &Error{Code: EPTC_RULE_NOT_FOUND}
	ErrSecretNotFound         = &Error{Code: ESECRET_NOT_FOUND}
	ErrUnsupportedUpstream    = &Error{Code: EUNSUPPORTED_UPSTREAM}
)
