// Package auth authenticates requests signed with AWS Signature Version 4.
//
// An Authenticator runs in one of two modes. In dev mode it verifies nothing
// and derives the caller's account from the access key id, following
// LocalStack's convention. In strict mode every request must carry a valid
// SigV4 signature (Authorization header or presigned query parameters) made
// with one of the configured credentials; the signature is recomputed with
// aws-sdk-go-v2's signer and compared in constant time.
//
// Secrets are never logged and never appear in errors.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
)

// DefaultAccountID is the account of dev-mode callers whose access key id is
// not itself a 12-digit account id (LocalStack's convention).
const DefaultAccountID = "000000000000"

// DefaultMaxSkew is how far a request's signing time may be from the server
// clock, in either direction, unless WithMaxSkew says otherwise.
const DefaultMaxSkew = 15 * time.Minute

// Authenticator resolves and, in strict mode, verifies the caller of a
// request. It is safe for concurrent use.
type Authenticator struct {
	strict  bool
	keys    map[string]Account // by access key id; strict mode only
	now     func() time.Time
	maxSkew time.Duration
	signer  *v4.Signer
}

// Option configures a strict-mode Authenticator.
type Option func(*Authenticator)

// WithClock makes the Authenticator read the time from now instead of
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(a *Authenticator) {
		if now != nil {
			a.now = now
		}
	}
}

// WithMaxSkew sets how far a request's signing time may be from the server
// clock. Values <= 0 leave the default of 15 minutes.
func WithMaxSkew(d time.Duration) Option {
	return func(a *Authenticator) {
		if d > 0 {
			a.maxSkew = d
		}
	}
}

// NewDev returns a dev-mode Authenticator: it never verifies signatures. The
// caller's account is the SigV4 access key id when that is exactly 12 ASCII
// digits, and DefaultAccountID otherwise; a request without SigV4
// authentication is accepted as DefaultAccountID with an empty access key id.
func NewDev() *Authenticator {
	return &Authenticator{now: time.Now, maxSkew: DefaultMaxSkew}
}

// NewStrict returns a strict-mode Authenticator that accepts only requests
// correctly signed with one of accounts. accounts should come from
// LoadCredentials, which rejects repeated access key ids; should a key repeat
// anyway, its first entry wins.
func NewStrict(accounts []Account, opts ...Option) *Authenticator {
	a := &Authenticator{
		strict:  true,
		keys:    make(map[string]Account, len(accounts)),
		now:     time.Now,
		maxSkew: DefaultMaxSkew,
		signer:  v4.NewSigner(),
	}
	for _, acct := range accounts {
		if _, dup := a.keys[acct.AccessKeyID]; !dup && acct.AccessKeyID != "" {
			a.keys[acct.AccessKeyID] = acct
		}
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// PayloadHash returns the lowercase hex SHA-256 of body, the payload hash
// SigV4 signs when a request has no X-Amz-Content-Sha256 header.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the caller of r.
//
// payloadHash is the lowercase hex SHA-256 of the request body (see
// PayloadHash), or the literal value of r's X-Amz-Content-Sha256 header when
// the server cannot hash the body up front (S3 streaming uploads). When r has
// an X-Amz-Content-Sha256 header its value is what the signature covers:
//
//   - if both it and payloadHash are hex SHA-256 values and they differ, the
//     body is not the one the client signed, and Authenticate fails with a
//     fault.Validation error coded XAmzContentSHA256Mismatch;
//   - a non-hash value (UNSIGNED-PAYLOAD, STREAMING-...) is accepted only
//     for service "s3"; the S3 layer is responsible for chunk signatures.
//
// A presigned S3 URL without that header is verified as UNSIGNED-PAYLOAD, as
// S3 clients sign it.
//
// In strict mode failures are *fault.Error values of kind
// fault.Unauthenticated whose Code is the AWS error type:
// MissingAuthenticationTokenException, IncompleteSignatureException,
// UnrecognizedClientException or InvalidSignatureException.
func (a *Authenticator) Authenticate(r *http.Request, payloadHash string) (identity.Caller, error) {
	if !a.strict {
		return devCaller(r), nil
	}
	c, ferr := a.authenticate(r, payloadHash)
	if ferr != nil {
		return identity.Caller{}, ferr
	}
	return c, nil
}

// Verifies reports whether requests' signatures are checked (strict mode),
// so callers know whether the payload hash is needed at all.
func (a *Authenticator) Verifies() bool { return a.strict }

func devCaller(r *http.Request) identity.Caller {
	s, ok := Scope(r)
	if !ok {
		return identity.Caller{AccountID: DefaultAccountID}
	}
	account := DefaultAccountID
	if isAccountID(s.AccessKeyID) {
		account = s.AccessKeyID
	}
	return identity.Caller{AccountID: account, AccessKeyID: s.AccessKeyID, Region: s.Region, Service: s.Service}
}

func (a *Authenticator) authenticate(r *http.Request, payloadHash string) (identity.Caller, *fault.Error) {
	p, ferr := parse(r)
	if ferr != nil {
		return identity.Caller{}, ferr
	}
	acct, ok := a.keys[p.scope.AccessKeyID]
	if !ok {
		return identity.Caller{}, &fault.Error{Kind: fault.Unauthenticated, Code: "UnrecognizedClientException",
			Message: "The security token included in the request is invalid."}
	}
	if ferr := a.checkTime(p); ferr != nil {
		return identity.Caller{}, ferr
	}
	hash, ferr := effectivePayloadHash(r, p, payloadHash)
	if ferr != nil {
		return identity.Caller{}, ferr
	}
	for _, name := range p.signedHeaders {
		if _, ok := signedHeaderValues(r, name); !ok {
			return identity.Caller{}, invalidSignature(fmt.Sprintf("The request does not carry the signed header '%s'.", name))
		}
	}
	sdk := p.sdkCompatible(r)
	for _, u := range uriCandidates(p.scope.Service, requestPath(r)) {
		var sig string
		if sdk {
			var err error
			sig, err = a.sdkSignature(r.Context(), r, p, u, hash, acct)
			if err != nil {
				return identity.Caller{}, fault.Wrap(fault.Internal, err, "auth: computing the SigV4 signature")
			}
		} else {
			sig = manualSignature(r, p, u, hash, acct.SecretAccessKey)
		}
		if sig != "" && subtle.ConstantTimeCompare([]byte(sig), []byte(p.signature)) == 1 {
			return identity.Caller{
				AccountID:   acct.AccountID,
				AccessKeyID: acct.AccessKeyID,
				Region:      p.scope.Region,
				Service:     p.scope.Service,
			}, nil
		}
	}
	return identity.Caller{}, invalidSignature("The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

// checkTime checks the request's signing time against its credential scope,
// the server clock and, for presigned URLs, X-Amz-Expires.
func (a *Authenticator) checkTime(p *sigReq) *fault.Error {
	if d := p.date.Format(scopeDateFmt); d != p.scope.Date {
		return invalidSignature(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			p.scope.Date, d, p.dateText))
	}
	now := a.now().UTC()
	t := p.date
	if t.After(now.Add(a.maxSkew)) {
		return invalidSignature(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			t.Format(amzDateFormat), now.Add(a.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), skewText(a.maxSkew)))
	}
	if p.presigned && p.hasExpires {
		if now.After(t.Add(p.expires)) {
			return invalidSignature("Request has expired")
		}
		return nil
	}
	if t.Before(now.Add(-a.maxSkew)) {
		return invalidSignature(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			t.Format(amzDateFormat), now.Add(-a.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), skewText(a.maxSkew)))
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// effectivePayloadHash returns the payload hash the signature must cover.
func effectivePayloadHash(r *http.Request, p *sigReq, given string) (string, *fault.Error) {
	if v := r.Header.Values(hdrContentSHA256); len(v) > 0 {
		if len(v) > 1 {
			return "", incomplete("The request has more than one X-Amz-Content-Sha256 header.")
		}
		h := strings.TrimSpace(v[0])
		if isHexSHA256(h) {
			if isHexSHA256(given) && !strings.EqualFold(h, given) {
				return "", &fault.Error{Kind: fault.Validation, Code: "XAmzContentSHA256Mismatch",
					Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
			}
			return h, nil
		}
		if p.scope.Service != "s3" {
			return "", invalidSignature(fmt.Sprintf("The x-amz-content-sha256 header must be the hex SHA-256 of the payload for service '%s'.", p.scope.Service))
		}
		return h, nil
	}
	if p.presigned && p.scope.Service == "s3" {
		return unsignedS3Hash, nil
	}
	if given == "" {
		return "", fault.Newf(fault.Internal, "auth: no payload hash given for a request without an X-Amz-Content-Sha256 header")
	}
	return given, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func invalidSignature(msg string) *fault.Error {
	return &fault.Error{Kind: fault.Unauthenticated, Code: "InvalidSignatureException", Message: msg}
}
