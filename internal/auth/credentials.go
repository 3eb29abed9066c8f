package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Account is one configured AWS account credential.
//
// Its String, GoString and LogValue methods redact SecretAccessKey, so an
// Account can be printed or logged without leaking the secret.
type Account struct {
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
}

const redacted = "REDACTED"

// String formats a without its secret.
func (a Account) String() string {
	return fmt.Sprintf("{AccountID:%s AccessKeyID:%s SecretAccessKey:%s}", a.AccountID, a.AccessKeyID, redacted)
}

// GoString formats a for %#v without its secret.
func (a Account) GoString() string {
	return fmt.Sprintf("auth.Account{AccountID:%q, AccessKeyID:%q, SecretAccessKey:%q}", a.AccountID, a.AccessKeyID, redacted)
}

// LogValue implements slog.LogValuer without the secret.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("accountId", a.AccountID),
		slog.String("accessKeyId", a.AccessKeyID),
	)
}

// credentialsFile is the on-disk shape read by LoadCredentials.
type credentialsFile struct {
	Accounts []struct {
		AccountID       string `json:"accountId"`
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	} `json:"accounts"`
}

// LoadCredentials reads a JSON credentials file of the form
//
//	{"accounts":[{"accountId":"111111111111","accessKeyId":"...","secretAccessKey":"..."}]}
//
// and validates it: at least one account; every accountId is exactly 12 ASCII
// digits; every accessKeyId is non-empty, unique in the file and usable in a
// SigV4 credential (no '/', ',', '=', whitespace or control characters); every
// secretAccessKey is non-empty. Unknown fields are rejected so that a typo in
// a field name is not silently ignored. Errors name the offending entry by
// index and access key id; they never contain a secret.
func LoadCredentials(path string) ([]Account, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: reading credentials file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f credentialsFile
	if err := dec.Decode(&f); err != nil {
		// encoding/json errors name fields and types, never values.
		return nil, fmt.Errorf("auth: credentials file %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("auth: credentials file %s: unexpected data after the JSON object", path)
	}
	if len(f.Accounts) == 0 {
		return nil, fmt.Errorf("auth: credentials file %s: no accounts configured", path)
	}
	accounts := make([]Account, 0, len(f.Accounts))
	seen := make(map[string]int, len(f.Accounts))
	for i, e := range f.Accounts {
		name := fmt.Sprintf("accounts[%d]", i)
		if e.AccessKeyID != "" {
			name += fmt.Sprintf(" (accessKeyId %q)", e.AccessKeyID)
		}
		switch {
		case !isAccountID(e.AccountID):
			return nil, fmt.Errorf("auth: credentials file %s: %s: accountId %q must be exactly 12 digits", path, name, e.AccountID)
		case e.AccessKeyID == "":
			return nil, fmt.Errorf("auth: credentials file %s: %s: accessKeyId is empty", path, name)
		case !validAccessKeyID(e.AccessKeyID):
			return nil, fmt.Errorf("auth: credentials file %s: %s: accessKeyId contains a character not allowed in a SigV4 credential", path, name)
		case e.SecretAccessKey == "":
			return nil, fmt.Errorf("auth: credentials file %s: %s: secretAccessKey is empty", path, name)
		}
		if j, dup := seen[e.AccessKeyID]; dup {
			return nil, fmt.Errorf("auth: credentials file %s: %s: accessKeyId duplicates accounts[%d]", path, name, j)
		}
		seen[e.AccessKeyID] = i
		accounts = append(accounts, Account{AccountID: e.AccountID, AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey})
	}
	return accounts, nil
}

// isAccountID reports whether s is exactly 12 ASCII digits.
func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validAccessKeyID reports whether s can appear as the access key id of a
// SigV4 credential (Credential=<id>/<date>/<region>/<service>/aws4_request).
func validAccessKeyID(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '/' || r == ',' || r == '=' || r == ';'
	})
}
