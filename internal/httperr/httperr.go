package httperr

import (
	"encoding/json"
	"net/http"

	"google.golang.org/grpc/codes"
)

// body mirrors google.rpc.Status as grpc-gateway marshals it when there
// are no details.
type body struct {
	Code    codes.Code `json:"code"`
	Message string     `json:"message"`
}

// Write answers httpStatus with code and msg. msg reaches the caller
// verbatim, so it must be one of the door's fixed, client-safe texts.
// Headers the caller wants must be set before Write.
func Write(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	// The client may have gone; there is no one left to tell.
	_ = json.NewEncoder(w).Encode(body{Code: code, Message: msg})
}
