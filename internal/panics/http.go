package panics

import (
	"log/slog"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/ztbroker/ztbroker/internal/httperr"
)

// HTTP answers a panic in next with 500 and Message, in the JSON shape of
// every other error. A response next had already begun cannot be taken
// back; the error body then follows whatever it wrote.
func (p *Policy) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				// net/http's own way to abandon a response; not a fault,
				// and the server must see it to drop the connection.
				panic(v)
			}
			_ = p.Recovered(r.Context(), WhereHTTP, v, slog.String("method", r.Method), slog.String("path", r.URL.Path))
			httperr.Write(w, http.StatusInternalServerError, codes.Internal, Message)
		}()
		next.ServeHTTP(w, r)
	})
}
