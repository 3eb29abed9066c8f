"""Sign one request with botocore and print the result as JSON.

Reads a JSON spec from stdin:
  {"signer": "sigv4" | "s3" | "s3-query", "method": ..., "url": ...,
   "headers": {...}, "body": "...", "service": ..., "region": ...,
   "accessKey": ..., "secretKey": ..., "expires": 300,
   "signUserAgent": false}
and prints {"url": ..., "headers": {...}}: the URL to send (presigned URLs
carry their signature in it) and every header to send, including
Authorization and X-Amz-Date for header authentication.
"""
import json
import sys

import botocore.auth
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
if spec.get("signUserAgent"):
    # Sign User-Agent like the AWS SDK for Java v1 does.
    botocore.auth.SIGNED_HEADERS_BLACKLIST = [
        h for h in botocore.auth.SIGNED_HEADERS_BLACKLIST if h != "user-agent"
    ]
creds = Credentials(spec["accessKey"], spec["secretKey"])
req = AWSRequest(
    method=spec["method"],
    url=spec["url"],
    data=spec.get("body", "").encode("utf-8"),
    headers=spec.get("headers", {}),
)
signer = spec["signer"]
if signer == "sigv4":
    SigV4Auth(creds, spec["service"], spec["region"]).add_auth(req)
elif signer == "s3":
    S3SigV4Auth(creds, spec["service"], spec["region"]).add_auth(req)
elif signer == "s3-query":
    S3SigV4QueryAuth(creds, spec["service"], spec["region"], expires=spec["expires"]).add_auth(req)
else:
    sys.exit("unknown signer " + signer)
print(json.dumps({"url": req.url, "headers": dict(req.headers.items())}))
