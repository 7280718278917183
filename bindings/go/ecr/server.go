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
	return NewServerWith(reg, o, nil)
}

// Port the server listens on.
func (s *Server) Port() int {
	defer runtime.KeepAlive(s)
	return int(ecr_server_port(s.ptr))
}
