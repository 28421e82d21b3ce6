package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// mapErr turns an SDK error into one of the package's: the sentinels
// (ErrNotFound, ErrExists, ErrAuth, ErrNoBucket, ErrInvalidRange), transient
// errors for WithRetry, and messages that say which setting to fix. No
// credential ever appears in the result.
func (b *S3) mapErr(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return &permanentError{err}
	}
	var te *transientError
	if errors.As(err, &te) {
		return b.scrub(ctx, err) // classified already (a stalled transfer)
	}
	var code string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}

	switch code {
	case "NoSuchKey":
		return ErrNotFound
	case "PreconditionFailed":
		return ErrExists
	case "InvalidRange":
		return ErrInvalidRange
	case "NoSuchUpload":
		return &noSuchUploadError{b.scrub(ctx, err)}
	case "NoSuchBucket":
		return fmt.Errorf("%w: bucket %q does not exist at %s: create it (for example `aws s3 mb s3://%s`, or in the provider's console), or correct the hub URL",
			ErrNoBucket, b.bucket, b.endpoint, b.bucket)
	case "InvalidAccessKeyId", "XAdminUserNotFound": // the latter: versitygw
		return fmt.Errorf("%w: the access key in AWS_ACCESS_KEY_ID (%s) is not known to the server at %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to a key pair of that server, or correct --s3-endpoint",
			ErrAuth, b.credSource(ctx), b.endpoint)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%w: AWS_SECRET_ACCESS_KEY (%s) does not match the access key AWS_ACCESS_KEY_ID at %s: set the secret key that belongs to that access key",
			ErrAuth, b.credSource(ctx), b.endpoint)
	case "ExpiredToken", "TokenRefreshRequired", "InvalidToken", "ExpiredTokenException":
		return fmt.Errorf("%w: the session token (AWS_SESSION_TOKEN, %s) was refused by %s (%s): renew the credentials (for example `aws sso login`)",
			ErrAuth, b.credSource(ctx), b.endpoint, code)
	case "AccessDenied", "AllAccessDisabled", "AccountProblem":
		return fmt.Errorf("%w: the credentials (%s) are valid but not allowed to %s in s3://%s/%s at %s: grant access (bucket policy, IAM) or use other credentials",
			ErrAuth, b.credSource(ctx), op, b.bucket, b.prefix, b.endpoint)
	case "RequestTimeTooSkewed":
		return &permanentError{fmt.Errorf("the clock of this computer is too far from the time of %s: set the clock (turn on network time)", b.endpoint)}
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "IncorrectEndpoint":
		return &permanentError{fmt.Errorf("bucket %q is in another region than %q: set AWS_REGION to the bucket's region (server said %s)",
			b.bucket, b.client.Options().Region, code)}
	case "SlowDown", "RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable",
		"Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequests",
		"BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody", "ConditionalRequestConflict", "OperationAborted",
		"InvalidPart":
		// BadDigest and XAmzContentSHA256Mismatch: the body was damaged on
		// the way; sent again it usually arrives intact. InvalidPart: a
		// concurrent Put of the key replaced a part of the shared pending
		// upload; the next attempt checks the parts again.
		return markTransient(b.scrub(ctx, err))
	}

	switch {
	case code == "NotFound" || (status == 404 && code == ""):
		// A HEAD answer has no body to tell a missing object from a
		// missing bucket or, on some servers, an unknown access key: until
		// a request has gone through, a listing finds out.
		if !b.verified.Load() {
			if d := b.diagnose(ctx, op); d != nil {
				return d
			}
		}
		return ErrNotFound
	case status == 412:
		return ErrExists
	case status == 403 && (code == "" || code == "Forbidden"):
		// HEAD again; a listing tells which credential is wrong.
		if d := b.diagnose(ctx, op); d != nil {
			return d
		}
		return fmt.Errorf("%w: access to s3://%s/%s at %s was refused (credentials %s)", ErrAuth, b.bucket, b.prefix, b.endpoint, b.credSource(ctx))
	case status == 429 || status == 408 || status >= 500:
		return markTransient(b.scrub(ctx, err))
	}

	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr):
		bundle := os.Getenv("AWS_CA_BUNDLE")
		hint := "set AWS_CA_BUNDLE to the PEM file of the CA that signed it"
		if bundle != "" {
			hint = fmt.Sprintf("AWS_CA_BUNDLE=%s does not hold the CA that signed it: point AWS_CA_BUNDLE at that CA's PEM file", bundle)
		}
		return &permanentError{fmt.Errorf("the TLS certificate of %s is not trusted: %s: %w", b.endpoint, hint, err)}
	case isCredentialsError(err):
		return fmt.Errorf("%w: no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE: %w", ErrAuth, b.scrub(ctx, err))
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return markTransient(fmt.Errorf("cannot reach the S3 endpoint %s (check --s3-endpoint / AWS_ENDPOINT_URL_S3 and the network): %w", b.endpoint, b.scrub(ctx, err)))
	}
	if isNetworkError(err) {
		return markTransient(fmt.Errorf("connection to %s: %w", b.endpoint, b.scrub(ctx, err)))
	}
	return b.scrub(ctx, err)
}

// diagnose repeats a cheap request that returns an error code, to explain a
// bare 403 from a HEAD request.
func (b *S3) diagnose(ctx context.Context, op string) error {
	_, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.prefix), MaxKeys: aws.Int32(1)})
	if err == nil {
		b.verified.Store(true)
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() == "" || ae.ErrorCode() == "Forbidden" || ae.ErrorCode() == "NotFound" {
		return nil
	}
	if mapped := b.mapErr(ctx, op, "", err); errors.Is(mapped, ErrAuth) || errors.Is(mapped, ErrNoBucket) {
		return mapped
	}
	return nil
}

// isCredentialsError reports that the chain found no credentials, or failed
// to get them (an expired SSO session, a bad profile).
func isCredentialsError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "failed to retrieve credentials") || strings.Contains(s, "failed to refresh cached credentials")
}

// credSource says where the credentials came from, for messages; it never
// shows them.
func (b *S3) credSource(ctx context.Context) string {
	c, err := b.creds.Retrieve(context.WithoutCancel(ctx))
	if err != nil {
		return "none found"
	}
	switch {
	case strings.HasPrefix(c.Source, config.CredentialsSourceName):
		return "from the environment"
	case strings.HasPrefix(c.Source, "SharedConfigCredentials"):
		profile := b.profile
		if profile == "" {
			profile = os.Getenv("AWS_PROFILE")
		}
		if profile == "" {
			profile = "default"
		}
		file := strings.TrimSpace(strings.TrimPrefix(c.Source, "SharedConfigCredentials:"))
		return fmt.Sprintf("from profile %q in %s", profile, file)
	case c.Source == credentials.StaticCredentialsName:
		return "as configured"
	case c.Source != "":
		return "from " + c.Source
	}
	return "source unknown"
}

// scrub makes sure no credential appears in err's message, whatever a
// server or a library put there.
func (b *S3) scrub(ctx context.Context, err error) error {
	c, cerr := b.creds.Retrieve(context.WithoutCancel(ctx))
	if cerr != nil {
		return err
	}
	var secrets []string
	for _, s := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
		if len(s) >= 4 {
			secrets = append(secrets, s)
		}
	}
	msg := err.Error()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			return &redactedError{err: err, secrets: secrets}
		}
	}
	return err
}

type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

type noSuchUploadError struct{ err error }

func (e *noSuchUploadError) Error() string { return e.err.Error() }
func (e *noSuchUploadError) Unwrap() error { return e.err }

func isNoSuchUpload(err error) bool {
	var e *noSuchUploadError
	return errors.As(err, &e)
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// isNotImplemented reports a server that rejects a conditional write
// because it cannot do it.
func isNotImplemented(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 501
}
