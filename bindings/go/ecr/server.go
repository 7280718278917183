package ecr

/*
#include <stdlib.h>
#include <ecr.h>
*/
import "C"

import "runtime"

// ServerOptions of NewServer; the zero value listens on 127.0.0.1 on a free port.
type ServerOptions struct {
	BindAddress string
	Port        uint16
	Flags       uint32 // SERVER_* flags, e.g. SERVER_NO_AUTH | SERVER_CREATE_ON_PUSH
}

// NewServer creates a server for reg and starts it.
func NewServer(reg *Registry, o ServerOptions) (*Server, error) {
	var opts C.ecr_server_options
	if _, err := ecr_server_options_init(&opts, C.ECR_SERVER_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	addr := cstrOrNil(o.BindAddress)
	defer freeStr(addr)
	opts.bind_address = addr
	opts.port = C.uint16_t(o.Port)
	opts.flags = C.uint32_t(o.Flags)
	var srv *C.ecr_server
	if _, err := ecr_server_new(&srv, &opts); err != nil {
		return nil, err
	}
	s := wrapServer(srv, true, reg)
	if _, err := ecr_server_add_registry(srv, reg.ptr, nil); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := ecr_server_start(srv); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Port the server listens on.
func (s *Server) Port() int {
	defer runtime.KeepAlive(s)
	return int(ecr_server_port(s.ptr))
}
