// Package identity carries the authenticated caller through a request's
// context, so business logic can learn who is calling without knowing how
// the request was authenticated.
package identity

import "context"

// Caller is the authenticated principal of a request.
type Caller struct {
	AccountID   string // 12-digit AWS account ID
	AccessKeyID string // the access key that signed the request
	Region      string // region from the SigV4 credential scope
	Service     string // signing service from the credential scope, e.g. "cleanrooms"
}

type callerKey struct{}

// With returns a context carrying c.
func With(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// From returns the caller in ctx; ok is false when there is none.
func From(ctx context.Context) (c Caller, ok bool) {
	c, ok = ctx.Value(callerKey{}).(Caller)
	return c, ok
}
