package ecr

/*
#include <stdlib.h>
#include <ecr.h>
*/
import "C"

import "runtime"

// ParsePolicy parses and validates a policy document.
func ParsePolicy(text string, kind PolicyKind) (*Policy, error) {
	ct := cstr(text)
	defer freeStr(ct)
	var p *C.ecr_policy
	if _, err := ecr_policy_parse(&p, ct, C.size_t(len(text)), C.ecr_policy_kind(kind)); err != nil {
		return nil, err
	}
	return wrapPolicy(p, true), nil
}

// PolicyRequest is the request a policy is evaluated against.
type PolicyRequest struct {
	PrincipalARN     string
	PrincipalAccount string
	Action           string
	Resource         string
	Keys             map[string]string
}

// Evaluate evaluates the policy against a request.
func (p *Policy) Evaluate(r PolicyRequest) (PolicyDecision, error) {
	defer runtime.KeepAlive(p)
	var req C.ecr_policy_request
	if _, err := ecr_policy_request_init(&req, C.ECR_POLICY_REQUEST_VERSION); err != nil {
		return 0, err
	}
	var strs []*C.char
	defer func() {
		for _, s := range strs {
			freeStr(s)
		}
	}()
	str := func(s string) *C.char {
		c := cstrOrNil(s)
		strs = append(strs, c)
		return c
	}
	req.principal_arn = str(r.PrincipalARN)
	req.principal_account = str(r.PrincipalAccount)
	req.action = str(r.Action)
	req.resource = str(r.Resource)
	if len(r.Keys) > 0 {
		keys := (*[1 << 20]C.ecr_policy_context_key)(C.malloc(C.size_t(len(r.Keys)) * C.sizeof_ecr_policy_context_key))
		defer C.free(unsafePointer(keys))
		i := 0
		for k, v := range r.Keys {
			keys[i].name, keys[i].value = str(k), str(v)
			i++
		}
		req.keys = &keys[0]
		req.keys_count = C.size_t(len(r.Keys))
	}
	var d C.ecr_policy_decision
	if _, err := ecr_policy_evaluate(&d, p.ptr, &req); err != nil {
		return 0, err
	}
	return PolicyDecision(d), nil
}
