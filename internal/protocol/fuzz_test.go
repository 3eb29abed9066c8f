package protocol_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/protocol"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// fuzzUnimplemented is left unimplemented in the fuzzed table, so that the
// 501 path is reachable too.
const fuzzUnimplemented = "GetSchemaAnalysisRule"

// rawRequest is one request as the fuzz target takes it.
type rawRequest struct {
	method, path, query string
	body                []byte
	want                int // the status a hand-written seed gets
}

// fuzzSeeds are hand-written requests, valid and not.
var fuzzSeeds = []rawRequest{
	{"POST", "/collaborations", "", []byte(`{"members":[{"accountId":"123456789012","memberAbilities":["CAN_QUERY"],"displayName":"Bob"}],` +
		`"name":"my collab","description":"d","creatorMemberAbilities":["CAN_RECEIVE_RESULTS"],"creatorDisplayName":"Alice",` +
		`"queryLogStatus":"ENABLED","tags":{"k":"v"},"dataEncryptionMetadata":{"allowCleartext":true,"allowDuplicates":false,` +
		`"allowJoinsOnColumnsWithDifferentNames":true,"preserveNulls":false}}`), 200},
	{"POST", "/memberships", "", []byte(`{"collaborationIdentifier":"0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60","queryLogStatus":"DISABLED",` +
		`"defaultResultConfiguration":{"outputConfiguration":{"s3":{"resultFormat":"CSV","bucket":"my-bucket","keyPrefix":"p/"}},` +
		`"roleArn":"arn:aws:iam::123456789012:role/cleanrooms-query-role"},"paymentConfiguration":{"queryCompute":{"isResponsible":true}}}`), 200},
	{"GET", "/collaborations/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60/members", "maxResults=10&nextToken=abc%2Fdef", nil, 200},
	{"GET", "/collaborations/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60/members", "maxResults=0&maxResults=x", nil, 400},
	{"POST", "/tags/arn%3Aaws%3Acleanrooms%3Aus-east-1%3A123456789012%3Acollaboration%2F0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60", "",
		[]byte(`{"tags":{"team":"analytics","empty":""}}`), 200},
	{"DELETE", "/tags/arn%3Aaws%3Acleanrooms%3Aus-east-1%3A123456789012%3Acollaboration%2F0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60",
		"tagKeys=team&tagKeys=a%20b", nil, 200},
	{"DELETE", "/collaborations/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60", "", nil, 204},
	{"GET", "/collaborations/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60/schemas/My%20table/analysisRule/LIST", "", nil, 501},
	{"POST", "/memberships/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60/protectedQueries", "",
		[]byte(`{"type":"SQL","sqlParameters":{"queryString":"select 1","parameters":{"p":"v"}},"computeConfiguration":{"worker":{"type":"CR.1X","number":4}}}`), 200},
	{"POST", "/collaborations", "", []byte(`{"name":1}`), 400},
	{"POST", "/collaborations", "", []byte(`{"members":[{"accountId":"123456789012","memberAbilities":"x"}]}`), 400},
	{"POST", "/collaborations", "", []byte(`[]`), 400},
	{"POST", "/collaborations", "", []byte(`{"name":"a"} trailing`), 400},
	{"POST", "/collaborations", "", []byte("{\"name\":\"\xff\xfe\"}"), 400},
	{"PATCH", "/memberships/%zz", "", []byte(`{}`), 0}, // rejected by net/http
	{"GET", "/", "", nil, 404},
	{"GET", "//collaborations//", "a=%", nil, 404}, // empty path segments name no operation
	{"BREW", "/collaborations", "", nil, 404},
	{"POST", "/configuredTables/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60/analysisRule", "",
		[]byte(`{"analysisRuleType":"LIST","analysisRulePolicy":{"v1":{"list":{"joinColumns":["a"],"listColumns":["b"]},"custom":{}}}}`), 400},
	{"POST", "/memberships/0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60/privacybudgettemplates", "",
		[]byte(`{"privacyBudgetType":"ACCESS_BUDGET","parameters":{"accessBudget":{"budgetParameters":[{"type":"CALENDAR_DAY","budget":1e400}],"resourceArn":"x"}}}`), 400},
}

// recordSDKRequests sends a valid request for every operation with the SDK
// and returns them as seeds.
func recordSDKRequests(f *testing.F) []rawRequest {
	f.Helper()
	var (
		mu   sync.Mutex
		reqs []rawRequest
	)
	ops := fakeOps(func(op string, _ wire.Input) (any, error) { return zeroOutput(op), nil })
	h := newHandler(f, ops)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, rawRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, body, 0})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := cleanrooms.New(cleanrooms.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkHTTPClient(srv),
	})
	for _, op := range ops {
		sdkType, _ := sdkInputType(op.Name)
		_, in, err := newGen(0).build(op, sdkType)
		if err != nil {
			f.Fatalf("%s: %v", op.Name, err)
		}
		if _, err := invoke(context.Background(), client, op.Name, in); err != nil {
			f.Fatalf("%s: %v", op.Name, err)
		}
	}
	return reqs
}

// syncBuffer collects the handler's log, so a failure shows a recovered panic.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// FuzzDecodeRequest feeds arbitrary requests to the rest-json handler over
// the Clean Rooms table with a fake service that returns zero outputs. Decoding
// must never fail inside the server: every answer is a success, a modeled
// client error (400), an unknown operation (404) or the 501 of an
// unimplemented operation, and every error carries X-Amzn-ErrorType and a
// JSON body with a message.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.path, s.query, s.body)
	}
	for _, s := range recordSDKRequests(f) {
		f.Add(s.method, s.path, s.query, s.body)
	}

	h, logs := fuzzHandler(f)

	f.Fuzz(func(t *testing.T, method, path, rawQuery string, body []byte) {
		req := buildRequest(method, path, rawQuery, body)
		if req == nil {
			return // net/http rejects such a request line before any handler runs
		}
		logs.take()
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		took := time.Since(start)
		res := rec.Result()
		out := rec.Body.Bytes()
		describe := func() string {
			return req.Method + " " + req.RequestURI + " " + strings.TrimSpace(string(body)) +
				"\n -> " + res.Status + " " + res.Header.Get("X-Amzn-ErrorType") + " " + string(out) + "\n" + logs.take()
		}
		switch res.StatusCode {
		case http.StatusOK, http.StatusNoContent, http.StatusBadRequest, http.StatusNotFound, http.StatusNotImplemented:
		default:
			t.Fatalf("unexpected status:\n%s", describe())
		}
		if took > 2*time.Second {
			t.Fatalf("took %s:\n%s", took, describe())
		}
		if res.StatusCode == http.StatusOK && !json.Valid(out) {
			t.Fatalf("200 with a body that is not JSON:\n%s", describe())
		}
		if res.StatusCode < 300 {
			return
		}
		if res.Header.Get("X-Amzn-ErrorType") == "" {
			t.Fatalf("error without X-Amzn-ErrorType:\n%s", describe())
		}
		var msg struct {
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(out, &msg); err != nil || msg.Message == nil {
			t.Fatalf("error body without a message:\n%s", describe())
		}
	})
}

// fuzzHandler serves the Clean Rooms table with a fake that returns zero
// outputs, logging to the returned buffer.
func fuzzHandler(tb testing.TB) (*protocol.RestJSON, *syncBuffer) {
	tb.Helper()
	ops := fakeOps(func(op string, _ wire.Input) (any, error) { return zeroOutput(op), nil }, fuzzUnimplemented)
	codec, err := protocol.NewErrorCodec(cleanroomsapi.ErrorTable(), cleanroomsapi.ErrorShapes())
	if err != nil {
		tb.Fatal(err)
	}
	logs := &syncBuffer{}
	h, err := protocol.NewRestJSON(ops, codec, protocol.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	return h, logs
}

// TestFuzzSeeds checks that the hand-written seeds reach the paths they
// were written for.
func TestFuzzSeeds(t *testing.T) {
	h, logs := fuzzHandler(t)
	for i, s := range fuzzSeeds {
		req := buildRequest(s.method, s.path, s.query, s.body)
		if req == nil {
			if s.want != 0 {
				t.Errorf("seed %d (%s %s): rejected as a request line, want %d", i, s.method, s.path, s.want)
			}
			continue
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != s.want {
			t.Errorf("seed %d (%s %s?%s): status %d, want %d: %s %s", i, s.method, s.path, s.query, rec.Code, s.want, rec.Body, logs.take())
		}
	}
}

// TestTypeErrorsNameJSONKinds checks that a body member of the wrong JSON
// type is reported with the model's kind, not a Go type name.
func TestTypeErrorsNameJSONKinds(t *testing.T) {
	h, _ := fuzzHandler(t)
	for body, want := range map[string]string{
		`{"creatorMemberAbilities":[1]}`:   "Member must be of type string, not a JSON number",
		`{"dataEncryptionMetadata":1}`:     "Member must be of type structure, not a JSON number",
		`{"members":{}}`:                   "Member must be of type list, not a JSON object",
		`{"tags":[]}`:                      "Member must be of type map, not a JSON array",
		`{"isMetricsEnabled":"true"}`:      "Member must be of type boolean, not a JSON string",
		`{"members":[{"accountId":12}]}`:   "Member must be of type string, not a JSON number",
		`{"creatorMLMemberAbilities":"x"}`: "Member must be of type structure, not a JSON string",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/collaborations", strings.NewReader(body)))
		var res struct {
			Message   string `json:"message"`
			FieldList []struct {
				Name    string `json:"name"`
				Message string `json:"message"`
			} `json:"fieldList"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
			continue
		}
		if len(res.FieldList) != 1 || res.FieldList[0].Message != want || !strings.Contains(res.Message, want) {
			t.Errorf("%s: got %s, want the message %q", body, rec.Body, want)
		}
	}
}

// buildRequest builds the request a server would hand to its handler for
// the request line "method path?rawQuery", or nil when net/http would
// reject that line itself.
func buildRequest(method, path, rawQuery string, body []byte) *http.Request {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	target := path
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	if strings.ContainsAny(target, " \r\n\x00") {
		return nil // not a request line
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	req, err := http.NewRequest(method, "http://cleanrooms.test/", bytes.NewReader(body))
	if err != nil {
		return nil // an invalid method
	}
	u.Scheme, u.Host = "", ""
	req.URL = u
	req.RequestURI = target
	req.Host = "cleanrooms.test"
	return req
}
