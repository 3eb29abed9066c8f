package cwlogs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/protocol"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

// TestErrorTable renders every fault kind as the CloudWatch Logs error a
// client expects, always with its message.
func TestErrorTable(t *testing.T) {
	codec, err := protocol.NewErrorCodec(ErrorTable(), ErrorShapes())
	if err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[fault.Kind]struct {
		code   string
		status int
	}{
		fault.Internal:      {"ServiceUnavailableException", http.StatusInternalServerError},
		fault.Unavailable:   {"ServiceUnavailableException", http.StatusInternalServerError},
		fault.Validation:    {"InvalidParameterException", http.StatusBadRequest},
		fault.AccessDenied:  {"AccessDeniedException", http.StatusBadRequest},
		fault.NotFound:      {"ResourceNotFoundException", http.StatusBadRequest},
		fault.Conflict:      {"ResourceAlreadyExistsException", http.StatusBadRequest},
		fault.QuotaExceeded: {"LimitExceededException", http.StatusBadRequest},
		fault.Throttled:     {"ThrottlingException", http.StatusBadRequest},
	} {
		r := codec.Render(&fault.Error{Kind: kind, Message: "why"})
		if r.Code != want.code || r.Status != want.status {
			t.Errorf("%s: rendered %s %d, want %s %d", kind, r.Code, r.Status, want.code, want.status)
		}
		if msg, _ := r.Body["message"].(string); msg == "" {
			t.Errorf("%s: no message in %v", kind, r.Body)
		}
	}
	for name, s := range ErrorShapes() {
		if s.Members[0] != "message" {
			t.Errorf("%s has no message member: %v", name, s.Members)
		}
	}
}

// TestEmptyListsAreSent checks that outputs carry their lists even when
// empty, as CloudWatch Logs sends them.
func TestEmptyListsAreSent(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, "us-east-1")
	h, err := NewHandler(s, protocol.Options{CheckResponses: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := identity.With(context.Background(), identity.Caller{AccountID: "111111111111"})
	if err := s.Append(ctx, "111111111111", "/g", "s", nil); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]string{
		"DescribeLogGroups":  `"logGroups":[{`,
		"DescribeLogStreams": `"logStreams":[{`,
		"GetLogEvents":       `"events":[]`,
		"FilterLogEvents":    `"events":[],"searchedLogStreams":[]`,
	} {
		body := `{"logGroupName":"/g","logStreamName":"s"}`
		if op == "DescribeLogGroups" {
			body = `{"logGroupNamePrefix":"/none"}`
			want = `{"logGroups":[]}`
		}
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", "Logs_20140328."+op)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s, want %s", op, w.Code, w.Body, want)
		}
	}
}
