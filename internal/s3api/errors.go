package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// apiError is an S3 error response.
type apiError struct {
	Code    string
	Status  int
	Message string
	// Header is extra response headers (e.g. Content-Range for InvalidRange).
	Header http.Header
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// statusOf gives the HTTP status of every S3 error code the handler sends.
var statusOf = map[string]int{
	"AccessDenied":                 http.StatusForbidden,
	"AuthorizationHeaderMalformed": http.StatusBadRequest,
	"BadDigest":                    http.StatusBadRequest,
	"BucketAlreadyExists":          http.StatusConflict,
	"BucketAlreadyOwnedByYou":      http.StatusConflict,
	"BucketNotEmpty":               http.StatusConflict,
	"EntityTooLarge":               http.StatusBadRequest,
	"EntityTooSmall":               http.StatusBadRequest,
	"IncompleteBody":               http.StatusBadRequest,
	"InternalError":                http.StatusInternalServerError,
	"InvalidAccessKeyId":           http.StatusForbidden,
	"InvalidArgument":              http.StatusBadRequest,
	"InvalidBucketName":            http.StatusBadRequest,
	"InvalidDigest":                http.StatusBadRequest,
	"InvalidPart":                  http.StatusBadRequest,
	"InvalidPartNumber":            http.StatusRequestedRangeNotSatisfiable,
	"InvalidPartOrder":             http.StatusBadRequest,
	"InvalidRange":                 http.StatusRequestedRangeNotSatisfiable,
	"InvalidRequest":               http.StatusBadRequest,
	"KeyTooLongError":              http.StatusBadRequest,
	"MalformedXML":                 http.StatusBadRequest,
	"MetadataTooLarge":             http.StatusBadRequest,
	"MethodNotAllowed":             http.StatusMethodNotAllowed,
	"MissingContentLength":         http.StatusLengthRequired,
	"NoSuchBucket":                 http.StatusNotFound,
	"NoSuchKey":                    http.StatusNotFound,
	"NoSuchUpload":                 http.StatusNotFound,
	"NoSuchVersion":                http.StatusNotFound,
	"NotImplemented":               http.StatusNotImplemented,
	"NotModified":                  http.StatusNotModified,
	"PreconditionFailed":           http.StatusPreconditionFailed,
	"RequestTimeTooSkewed":         http.StatusForbidden,
	"ServiceUnavailable":           http.StatusServiceUnavailable,
	"SignatureDoesNotMatch":        http.StatusForbidden,
	"SlowDown":                     http.StatusServiceUnavailable,
	"XAmzContentSHA256Mismatch":    http.StatusBadRequest,
}

func newError(code, format string, args ...any) *apiError {
	st, ok := statusOf[code]
	if !ok {
		st = http.StatusBadRequest
	}
	return &apiError{Code: code, Status: st, Message: fmt.Sprintf(format, args...)}
}

func errAccessDenied() *apiError { return newError("AccessDenied", "Access Denied") }

func errNotImplemented(what string) *apiError {
	return newError("NotImplemented", "A header or query you provided requests %s, which cleanroomsd does not implement.", what)
}

func errMalformedXML() *apiError {
	return newError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
}

// authErrors maps the auth package's fault codes to S3's.
func authError(fe *fault.Error) *apiError {
	switch fe.Code {
	case "InvalidSignatureException":
		switch {
		case strings.HasPrefix(fe.Message, "Signature expired"), strings.HasPrefix(fe.Message, "Signature not yet current"):
			return newError("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
		case strings.HasPrefix(fe.Message, "Request has expired"):
			return newError("AccessDenied", "Request has expired")
		case strings.HasPrefix(fe.Message, "The request signature we calculated"):
			return newError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		}
		return newError("SignatureDoesNotMatch", "%s", fe.Message)
	case "UnrecognizedClientException":
		return newError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	case "MissingAuthenticationTokenException":
		return newError("AccessDenied", "Access Denied")
	case "IncompleteSignatureException":
		return newError("AuthorizationHeaderMalformed", "%s", fe.Message)
	case "XAmzContentSHA256Mismatch":
		return newError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return nil
}

// toAPIError turns any error into the S3 error to send.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return newError("IncompleteBody", "The request was canceled before it completed.")
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		if ae := authError(fe); ae != nil {
			return ae
		}
		if fe.Code != "" {
			if st, ok := statusOf[fe.Code]; ok {
				return &apiError{Code: fe.Code, Status: st, Message: fe.Message}
			}
		}
		switch fe.Kind {
		case fault.AccessDenied, fault.Unauthenticated:
			return errAccessDenied()
		case fault.Unavailable:
			return newError("ServiceUnavailable", "Please reduce your request rate.")
		case fault.Throttled:
			return newError("SlowDown", "Please reduce your request rate.")
		case fault.NotImplemented:
			return newError("NotImplemented", "%s", fe.Message)
		case fault.Validation:
			if fe.Message != "" {
				return newError("InvalidRequest", "%s", fe.Message)
			}
		}
	}
	return newError("InternalError", "We encountered an internal error. Please try again.")
}

// errorBody is S3's error document.
type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	Resource   string   `xml:"Resource,omitempty"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId,omitempty"`
}
