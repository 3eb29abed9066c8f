package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"

	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

func TestStrictModeVerifiesSignatures(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "credentials.json")
	doc := map[string]any{"accounts": []map[string]string{
		{"accountId": acctA, "accessKeyId": "AKIAALICE", "secretAccessKey": "alice-secret"},
		{"accountId": acctB, "accessKeyId": "AKIABOB", "secretAccessKey": "bob-secret"},
	}}
	raw, _ := json.Marshal(doc)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := start(t, func(c *server.Config) { c.CredentialsFile = path })

	alice := ts.clientWithKeys("AKIAALICE", "alice-secret")
	coll := must(alice.CreateCollaboration(ctx, collaborationWith(acctB))).ok(t).Collaboration
	if got := *coll.CreatorAccountId; got != acctA {
		t.Errorf("creator %s, want the key's account %s", got, acctA)
	}
	bob := ts.clientWithKeys("AKIABOB", "bob-secret")
	must(bob.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: coll.Id})).ok(t)

	_, err := ts.clientWithKeys("AKIAALICE", "wrong").ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})
	wantError(t, err, "InvalidSignatureException", 403)
	_, err = ts.clientWithKeys("AKIAMALLORY", "x").ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})
	wantError(t, err, "UnrecognizedClientException", 403)
	// The 12-digit convention of dev mode is off.
	_, err = ts.client(acctA).ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})
	wantError(t, err, "UnrecognizedClientException", 403)

	resp, err := http.Get(ts.url + "/collaborations")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("unsigned request: %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestDevModeAccounts(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	// A key that isn't 12 digits acts as 000000000000.
	coll := must(ts.clientWithKeys("test", "test").CreateCollaboration(ctx, collaborationWith(acctB))).ok(t).Collaboration
	if got := *coll.CreatorAccountId; got != "000000000000" {
		t.Errorf("creator %s, want 000000000000", got)
	}
	resp, err := http.Get(ts.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	// Unsigned requests act as 000000000000 too, so curl works.
	resp, err = http.Get(ts.url + "/collaborations")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		CollaborationList []struct {
			ID string `json:"id"`
		} `json:"collaborationList"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body.CollaborationList) != 1 || body.CollaborationList[0].ID != *coll.Id {
		t.Errorf("unsigned list: %d %+v", resp.StatusCode, body)
	}
	// Malformed JSON is a 400.
	resp, err = http.Post(ts.url+"/collaborations", "application/json", strings.NewReader(`{"name":`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Errorf("malformed JSON: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	// An unknown route is a clear 404.
	resp, err = http.Get(ts.url + "/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("unknown route: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
