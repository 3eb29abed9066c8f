package s3api

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests drive the real AWS CLI (v1) and boto3 against the handler on a
// real listener, over http and over https (where botocore switches to
// aws-chunked bodies with trailing checksums). They skip when the tools are
// missing, except in CI (CI=true), where they fail.

func requireTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil && len(args) > 0 {
		err = exec.Command(path, args...).Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s %v is required in CI: %v", name, args, err)
		}
		t.Skipf("%s %v not available: %v", name, args, err)
	}
	return path
}

// toolEnv is the environment of the CLI and boto3: the process environment
// without any AWS_ variable, plus account 111111111111's dev credentials and
// empty config files, so nothing on the machine changes what they send.
func toolEnv(t *testing.T) []string {
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	os.WriteFile(cfg, nil, 0o600)
	os.WriteFile(creds, nil, 0o600)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+acctA, "AWS_SECRET_ACCESS_KEY=x",
		"AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"PYTHONWARNINGS=ignore",
	)
}

func TestAWSCLI(t *testing.T) {
	awsPath := requireTool(t, "aws", "--version")
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{tls: tls})
			env := toolEnv(t)
			dir := t.TempDir()
			run := func(args ...string) string {
				t.Helper()
				full := append([]string{"--endpoint-url", e.srv.URL}, args...)
				if tls {
					full = append([]string{"--no-verify-ssl"}, full...)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, awsPath, full...)
				cmd.Env, cmd.Dir = env, dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			small := []byte("hello from the aws cli\n")
			big := randomData(21, 20<<20)
			os.WriteFile(filepath.Join(dir, "small.txt"), small, 0o644)
			os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)
			same := func(file string, want []byte) {
				t.Helper()
				got, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s differs (%d bytes, %v)", file, len(got), err)
				}
			}

			run("s3", "mb", "s3://cli-bucket")
			if owner, err := BucketOwner(bg, e.meta, "cli-bucket"); err != nil || owner != acctA {
				t.Fatalf("owner %q %v", owner, err)
			}
			run("s3", "cp", "small.txt", "s3://cli-bucket/dir/small file+1.txt")
			e.drainSeen()
			run("s3", "cp", "big.bin", "s3://cli-bucket/big.bin")
			multipart, chunked := false, false
			for len(e.seen) > 0 {
				r := <-e.seen
				if r.URL.Query().Has("uploadId") && r.Method == "PUT" {
					multipart = true
					chunked = r.Header.Get("X-Amz-Content-Sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
				}
			}
			if !multipart {
				t.Fatal("aws s3 cp of 20 MB did not use a multipart upload")
			}
			if chunked != tls {
				t.Fatalf("aws-chunked parts: %v over tls=%v", chunked, tls)
			}
			info, err := e.objects.Head(bg, "cli-bucket", "big.bin")
			if err != nil || info.Size != int64(len(big)) || !strings.HasSuffix(info.ETag, "-3") {
				t.Fatalf("stored big.bin: %+v %v", info, err)
			}
			run("s3", "cp", "s3://cli-bucket/big.bin", "back.bin")
			same("back.bin", big)
			run("s3", "cp", "s3://cli-bucket/dir/small file+1.txt", "back-small.txt")
			same("back-small.txt", small)
			if tls {
				run("s3", "rb", "--force", "s3://cli-bucket")
			} else {
				if out := run("s3", "ls"); !strings.Contains(out, "cli-bucket") {
					t.Fatalf("aws s3 ls:\n%s", out)
				}
				out := run("s3", "ls", "s3://cli-bucket/")
				if !strings.Contains(out, "PRE dir/") || !strings.Contains(out, "20971520 big.bin") {
					t.Fatalf("aws s3 ls s3://cli-bucket/:\n%s", out)
				}
				if out := run("s3", "ls", "--recursive", "s3://cli-bucket"); !strings.Contains(out, "dir/small file+1.txt") {
					t.Fatalf("aws s3 ls --recursive:\n%s", out)
				}
				run("s3", "cp", "s3://cli-bucket/big.bin", "s3://cli-bucket/copy.bin")
				run("s3", "cp", "s3://cli-bucket/copy.bin", "copy.bin")
				same("copy.bin", big)
				run("s3", "rm", "s3://cli-bucket/big.bin")
				if _, err := e.objects.Head(bg, "cli-bucket", "big.bin"); err == nil {
					t.Fatal("big.bin still there after aws s3 rm")
				}
				run("s3", "rm", "--recursive", "s3://cli-bucket/")
				run("s3", "rb", "s3://cli-bucket")
			}
			if ok, _ := e.objects.BucketExists(bg, "cli-bucket"); ok {
				t.Fatal("bucket still exists after aws s3 rb")
			}
			if _, err := BucketOwner(bg, e.meta, "cli-bucket"); err == nil {
				t.Fatal("bucket record still exists after aws s3 rb")
			}
		})
	}
}

const boto3Script = `
import hashlib, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, tls, work = os.environ["ENDPOINT"], os.environ["TLS"] == "1", os.environ["WORK"]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", verify=False if tls else None,
                  config=Config(retries={"max_attempts": 1}))
B = "boto-bucket"
s3.create_bucket(Bucket=B)

big, back = os.path.join(work, "big.bin"), os.path.join(work, "back.bin")
s3.upload_file(big, B, "big/file.bin")
s3.download_file(B, "big/file.bin", back)
assert open(big, "rb").read() == open(back, "rb").read(), "download differs"
head = s3.head_object(Bucket=B, Key="big/file.bin")
assert head["ContentLength"] == os.path.getsize(big), head
assert head["ETag"].endswith('-3"'), head["ETag"]

for i in range(5):
    s3.put_object(Bucket=B, Key="list/k%d" % i, Body=b"x" * i)
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=B, Prefix="list/", PaginationConfig={"PageSize": 2}) for o in page.get("Contents", [])]
assert keys == ["list/k%d" % i for i in range(5)], keys
v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(
          Bucket=B, PaginationConfig={"PageSize": 2}) for o in page.get("Contents", [])]
assert v1 == ["big/file.bin"] + keys, v1
top = s3.list_objects_v2(Bucket=B, Delimiter="/")
assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["big/", "list/"], top

odd = "range key é+%20 ..txt"
body = b"0123456789"
put = s3.put_object(Bucket=B, Key=odd, Body=body)
assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), put
r = s3.get_object(Bucket=B, Key=odd, Range="bytes=2-5")
assert r["Body"].read() == b"2345" and r["ContentRange"] == "bytes 2-5/10", r
assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
r = s3.get_object(Bucket=B, Key=odd)
assert r["Body"].read() == body
assert any(o["Key"] == odd for o in s3.list_objects_v2(Bucket=B)["Contents"])

try:
    s3.get_object(Bucket=B, Key="missing")
    raise AssertionError("no error")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchKey", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

all_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=B)["Contents"]]
r = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": k} for k in all_keys]})
assert sorted(d["Key"] for d in r["Deleted"]) == sorted(all_keys), r
r = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "list/k0"}], "Quiet": True})
assert not r.get("Deleted") and not r.get("Errors"), r
assert s3.list_objects_v2(Bucket=B)["KeyCount"] == 0
s3.delete_bucket(Bucket=B)
print("BOTO3 OK")
`

func TestBoto3(t *testing.T) {
	py := requireTool(t, "python3", "-c", "import boto3")
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{tls: tls})
			work := t.TempDir()
			if err := os.WriteFile(filepath.Join(work, "big.bin"), randomData(31, 20<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "-c", boto3Script)
			tlsFlag := "0"
			if tls {
				tlsFlag = "1"
			}
			cmd.Env = append(toolEnv(t), "ENDPOINT="+e.srv.URL, "TLS="+tlsFlag, "WORK="+work)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "BOTO3 OK") {
				t.Fatalf("boto3: %v\n%s", err, out)
			}
			if ok, _ := e.objects.BucketExists(bg, "boto-bucket"); ok {
				t.Fatal("bucket left behind")
			}
		})
	}
}
