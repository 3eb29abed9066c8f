package protocol

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// testInput exercises every binding location.
type testInput struct {
	ID     string   `json:"-" location:"uri" locationName:"id"`
	Max    *int32   `json:"-" location:"querystring" locationName:"maxResults"`
	Keys   []string `json:"-" location:"querystring" locationName:"tagKeys"`
	Flag   *bool    `json:"-" location:"header" locationName:"x-amz-flag"`
	Name   string   `json:"name"`
	Labels []string `json:"labels,omitempty"`
}

func (in *testInput) Validate(v *wire.Validator) {
	if in.Name == "" {
		v.Missing("name")
	} else if len(in.Name) > 5 {
		v.Length("name", len(in.Name), 1, 5)
	}
}

type testOutput struct {
	Echo *testInput `json:"echo"`
}

func (o *testOutput) Validate(v *wire.Validator) {
	if o.Echo == nil {
		v.Missing("echo")
	}
}

type deleteInput struct {
	ID string `json:"-" location:"uri" locationName:"id"`
}

func (*deleteInput) Validate(*wire.Validator) {}

type emptyInput struct{}

func (*emptyInput) Validate(*wire.Validator) {}

func testTable() ErrorTable {
	return ErrorTable{
		fault.Internal: "InternalServerException", fault.Unavailable: "InternalServerException",
		fault.Validation: "ValidationException", fault.AccessDenied: "AccessDeniedException",
		fault.NotFound: "ResourceNotFoundException", fault.Conflict: "ConflictException",
		fault.QuotaExceeded: "ServiceQuotaExceededException", fault.Throttled: "ThrottlingException",
	}
}

func testShapes() map[string]wire.ErrorShape {
	return map[string]wire.ErrorShape{
		"InternalServerException":       {Name: "InternalServerException", Status: 500, Members: []string{"message"}},
		"ValidationException":           {Name: "ValidationException", Status: 400, Sender: true, Members: []string{"message", "reason", "fieldList"}},
		"AccessDeniedException":         {Name: "AccessDeniedException", Status: 403, Sender: true, Members: []string{"message", "reason"}},
		"ResourceNotFoundException":     {Name: "ResourceNotFoundException", Status: 404, Sender: true, Members: []string{"message", "resourceId", "resourceType"}},
		"ConflictException":             {Name: "ConflictException", Status: 409, Sender: true, Members: []string{"message", "resourceId", "resourceType", "reason"}},
		"ServiceQuotaExceededException": {Name: "ServiceQuotaExceededException", Status: 402, Sender: true, Members: []string{"message", "quotaName", "quotaValue"}},
		"ThrottlingException":           {Name: "ThrottlingException", Status: 429, Sender: true, Members: []string{"message"}},
	}
}

func newTestHandler(t *testing.T, call func(ctx context.Context, in wire.Input) (any, error)) *RestJSON {
	t.Helper()
	ops := []wire.Operation{
		{Name: "PutThing", Method: "POST", RequestURI: "/things/{id}", SuccessCode: 200,
			NewInput: func() wire.Input { return new(testInput) }, Call: call},
		{Name: "ListThings", Method: "GET", RequestURI: "/things/batch", SuccessCode: 200,
			NewInput: func() wire.Input { return new(emptyInput) }, Call: func(context.Context, wire.Input) (any, error) {
				return map[string]string{"route": "literal"}, nil
			}},
		{Name: "DeleteThing", Method: "DELETE", RequestURI: "/things/{id}", SuccessCode: 204,
			NewInput: func() wire.Input { return new(deleteInput) }, Call: func(context.Context, wire.Input) (any, error) {
				return &struct{}{}, nil
			}},
	}
	codec, err := NewErrorCodec(testTable(), testShapes())
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewRestJSON(ops, codec, Options{CheckResponses: true})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type response struct {
	status int
	code   string
	body   map[string]any
}

func do(h http.Handler, method, target, body string, hdr map[string]string) response {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	out := response{status: w.Code, code: w.Header().Get("X-Amzn-ErrorType")}
	json.Unmarshal(w.Body.Bytes(), &out.body)
	return out
}

func TestBindsEveryLocation(t *testing.T) {
	var got *testInput
	h := newTestHandler(t, func(_ context.Context, in wire.Input) (any, error) {
		got = in.(*testInput)
		return &testOutput{Echo: got}, nil
	})
	r := do(h, "POST", "/things/arn%3Aaws%3Ax%2Fy?maxResults=7&tagKeys=a&tagKeys=b%20c", `{"name":"abc","labels":["l1"]}`,
		map[string]string{"X-Amz-Flag": "true"})
	if r.status != 200 {
		t.Fatalf("status %d %v", r.status, r.body)
	}
	if got.ID != "arn:aws:x/y" || got.Max == nil || *got.Max != 7 || strings.Join(got.Keys, ",") != "a,b c" ||
		got.Flag == nil || !*got.Flag || got.Name != "abc" || len(got.Labels) != 1 {
		t.Errorf("bound %+v", got)
	}
}

func TestLiteralSegmentsWinOverLabels(t *testing.T) {
	h := newTestHandler(t, nil)
	r := do(h, "GET", "/things/batch", "", nil)
	if r.status != 200 || r.body["route"] != "literal" {
		t.Errorf("GET /things/batch = %d %v, want the literal route", r.status, r.body)
	}
}

func TestErrors(t *testing.T) {
	var fail error
	h := newTestHandler(t, func(_ context.Context, in wire.Input) (any, error) {
		if fail != nil {
			return nil, fail
		}
		return &testOutput{Echo: in.(*testInput)}, nil
	})
	cases := []struct {
		name       string
		method     string
		target     string
		body       string
		fail       error
		wantStatus int
		wantCode   string
		wantBody   map[string]any
	}{
		{name: "validation collects fields", method: "POST", target: "/things/x", body: `{"name":"toolong"}`,
			wantStatus: 400, wantCode: "ValidationException", wantBody: map[string]any{"reason": "FIELD_VALIDATION_FAILED"}},
		{name: "bad query integer", method: "POST", target: "/things/x?maxResults=ten", body: `{"name":"a"}`,
			wantStatus: 400, wantCode: "ValidationException"},
		{name: "malformed json", method: "POST", target: "/things/x", body: `{"name":`,
			wantStatus: 400, wantCode: "ValidationException"},
		{name: "wrong json type", method: "POST", target: "/things/x", body: `{"name":5}`,
			wantStatus: 400, wantCode: "ValidationException"},
		{name: "body not an object", method: "POST", target: "/things/x", body: `[1]`,
			wantStatus: 400, wantCode: "ValidationException"},
		{name: "unknown route", method: "GET", target: "/nothing", wantStatus: 404, wantCode: "UnknownOperationException"},
		{name: "wrong method", method: "PUT", target: "/things/x", wantStatus: 404, wantCode: "UnknownOperationException"},
		{name: "doubled slash", method: "GET", target: "//things//batch", wantStatus: 404, wantCode: "UnknownOperationException"},
		{name: "trailing slash", method: "GET", target: "/things/batch/", wantStatus: 404, wantCode: "UnknownOperationException"},
		{name: "not found", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: fault.Missing("MEMBERSHIP", "m-1", "gone"), wantStatus: 404, wantCode: "ResourceNotFoundException",
			wantBody: map[string]any{"message": "gone", "resourceId": "m-1", "resourceType": "MEMBERSHIP"}},
		{name: "quota", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: fault.Quota("Things per account", 10), wantStatus: 402, wantCode: "ServiceQuotaExceededException",
			wantBody: map[string]any{"quotaName": "Things per account", "quotaValue": 10.0}},
		{name: "conflict", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: fault.Conflicting("ALREADY_EXISTS", "MEMBERSHIP", "m-2", "dup"), wantStatus: 409, wantCode: "ConflictException",
			wantBody: map[string]any{"reason": "ALREADY_EXISTS", "resourceId": "m-2"}},
		{name: "internal hides cause", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: fault.Wrap(fault.Internal, errSecret, ""), wantStatus: 500, wantCode: "InternalServerException"},
		{name: "unavailable store", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: &fault.Error{Kind: fault.Unavailable, Err: errSecret}, wantStatus: 500, wantCode: "InternalServerException"},
		{name: "not implemented", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: fault.Unimplemented("PutThing"), wantStatus: 501, wantCode: "NotImplementedException"},
		{name: "auth code", method: "POST", target: "/things/x", body: `{"name":"a"}`,
			fail: &fault.Error{Kind: fault.Unauthenticated, Code: "InvalidSignatureException", Message: "bad"}, wantStatus: 403, wantCode: "InvalidSignatureException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fail = c.fail
			r := do(h, c.method, c.target, c.body, nil)
			if r.status != c.wantStatus || r.code != c.wantCode {
				t.Fatalf("got %d %s %v, want %d %s", r.status, r.code, r.body, c.wantStatus, c.wantCode)
			}
			if _, ok := r.body["message"]; !ok {
				t.Errorf("body %v has no message", r.body)
			}
			for k, v := range c.wantBody {
				if r.body[k] != v {
					t.Errorf("body[%s] = %v, want %v", k, r.body[k], v)
				}
			}
			if strings.Contains(r.body["message"].(string), errSecret.Error()) {
				t.Errorf("message %q leaks the internal cause", r.body["message"])
			}
		})
	}
}

var errSecret = &secretError{}

type secretError struct{}

func (*secretError) Error() string { return "db password is hunter2" }

func TestValidationFieldList(t *testing.T) {
	h := newTestHandler(t, nil)
	r := do(h, "POST", "/things/x", `{}`, nil)
	fl, _ := r.body["fieldList"].([]any)
	if r.status != 400 || len(fl) != 1 || fl[0].(map[string]any)["name"] != "name" {
		t.Errorf("got %d %v, want one field named name", r.status, r.body)
	}
}

func TestPanicIsA500AndTheHandlerLives(t *testing.T) {
	calls := 0
	h := newTestHandler(t, func(_ context.Context, in wire.Input) (any, error) {
		calls++
		if calls == 1 {
			panic("boom")
		}
		return &testOutput{Echo: in.(*testInput)}, nil
	})
	if r := do(h, "POST", "/things/x", `{"name":"a"}`, nil); r.status != 500 || r.code != "InternalServerException" {
		t.Fatalf("panic gave %d %s", r.status, r.code)
	}
	if r := do(h, "POST", "/things/x", `{"name":"a"}`, nil); r.status != 200 {
		t.Fatalf("after a panic: %d %v", r.status, r.body)
	}
}

func TestResponsesAreCheckedAgainstTheModel(t *testing.T) {
	h := newTestHandler(t, func(context.Context, wire.Input) (any, error) { return &testOutput{}, nil })
	if r := do(h, "POST", "/things/x", `{"name":"a"}`, nil); r.status != 500 {
		t.Fatalf("an output missing a required member gave %d, want 500", r.status)
	}
}

func TestDeleteAnswers204WithoutBody(t *testing.T) {
	h := newTestHandler(t, nil)
	r := httptest.NewRecorder()
	h.ServeHTTP(r, httptest.NewRequest("DELETE", "/things/x", nil))
	if r.Code != 204 || r.Body.Len() != 0 {
		t.Errorf("got %d with %d body bytes", r.Code, r.Body.Len())
	}
}

func TestErrorTableMustCoverEveryKind(t *testing.T) {
	table := testTable()
	delete(table, fault.Throttled)
	if _, err := NewErrorCodec(table, testShapes()); err == nil {
		t.Error("a table without Throttled was accepted")
	}
	table = testTable()
	table[fault.Throttled] = "NoSuchException"
	if _, err := NewErrorCodec(table, testShapes()); err == nil {
		t.Error("a table naming an unmodeled shape was accepted")
	}
}

func TestRouterRefusesAmbiguousRoutes(t *testing.T) {
	in := func() wire.Input { return new(testInput) }
	ops := []wire.Operation{
		{Name: "A", Method: "GET", RequestURI: "/x/{id}", NewInput: in},
		{Name: "B", Method: "GET", RequestURI: "/x/{other}", NewInput: in},
	}
	if _, err := newRouter(ops); err == nil {
		t.Error("two operations on one route were accepted")
	}
}
