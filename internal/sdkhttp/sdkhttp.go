// Package sdkhttp gives aws-sdk-go-v2 clients an HTTP client that avoids a
// client-side race in smithy-go (seen with v1.28.8): its handler closes the
// request body as soon as the round trip returns, and the closed body's
// WriteTo then reports io.EOF. When net/http reads the body once more after
// sending it, that io.EOF counts as a failed request write and the
// transport closes the connection while the response is still being read
// ("use of closed network connection"). Against a server on loopback that
// answers within microseconds this loses a few responses larger than the
// transport's 4 KiB read buffer per thousand. Hiding WriterTo turns the late
// read into an ordinary Read, whose io.EOF is harmless.
//
// The tests and benchmarks of cleanroomsd use it; the server needs nothing.
package sdkhttp

import (
	"io"
	"net/http"
)

// Client returns an *http.Client over rt (http.DefaultTransport when nil)
// whose requests' bodies never expose io.WriterTo.
func Client(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &http.Client{Transport: plainBodies{rt}}
}

type plainBodies struct{ rt http.RoundTripper }

func (t plainBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = struct {
			io.Reader
			io.Closer
		}{r.Body, r.Body}
	}
	return t.rt.RoundTrip(r)
}
