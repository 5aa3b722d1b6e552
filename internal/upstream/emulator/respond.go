package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxRequestBody bounds what a handler reads of a request.
const maxRequestBody = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeMessage answers in Central's error shape, {"message": "..."}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// writeBadRequest answers in v2's BadRequestResponse shape.
func writeBadRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": http.StatusBadRequest, "message": msg})
}

func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return errors.New("reading body")
	}
	if len(b) > maxRequestBody {
		return errors.New("body too large")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("body must be a JSON object")
	}
	return nil
}
