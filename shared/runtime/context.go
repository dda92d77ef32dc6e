package runtime

import (
	"context"
	"os"
	"sync/atomic"
)

// Credentials are the temporary (STS) credentials of the function's role. FC hands them to every
// invocation; they rotate, so a long-lived SDK client must read them through a provider that
// calls LatestCredentials rather than copy them once.
type Credentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

// Invocation is what the platform told us about one invocation. The adapters put it into the
// request context; handlers read it through RequestID, CredentialsFrom, RetryCount and
// FunctionName.
type Invocation struct {
	RequestID    string
	FunctionName string
	// Credentials is zero when the platform delivered none (AWS, dev mode without env keys).
	Credentials Credentials
	// RetryCount is how many times the platform has already tried this event (0 on the first try).
	RetryCount int
}

type invocationKey struct{}

// WithInvocation returns ctx carrying inv. The adapters call it for every invocation; tests of
// packages built on this one use it to give a handler the context FC would.
func WithInvocation(ctx context.Context, inv *Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

func invocationFrom(ctx context.Context) *Invocation {
	inv, _ := ctx.Value(invocationKey{}).(*Invocation)
	return inv
}

// RequestID is the platform's id of the invocation ctx belongs to, or "" outside one.
func RequestID(ctx context.Context) string {
	if inv := invocationFrom(ctx); inv != nil {
		return inv.RequestID
	}
	return ""
}

// CredentialsFrom returns the credentials the current invocation carried.
func CredentialsFrom(ctx context.Context) (Credentials, bool) {
	if inv := invocationFrom(ctx); inv != nil && inv.Credentials.AccessKeyID != "" {
		return inv.Credentials, true
	}
	return Credentials{}, false
}

// RetryCount is how many earlier attempts the platform made at the current event.
func RetryCount(ctx context.Context) int {
	if inv := invocationFrom(ctx); inv != nil {
		return inv.RetryCount
	}
	return 0
}

// FunctionName names the function serving ctx: the platform's per-invocation value when it sent
// one, else the process-wide name (FC_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_NAME, the binary name).
func FunctionName(ctx context.Context) string {
	if inv := invocationFrom(ctx); inv != nil && inv.FunctionName != "" {
		return inv.FunctionName
	}
	return processFunctionName()
}

func processFunctionName() string {
	if n := os.Getenv("FC_FUNCTION_NAME"); n != "" {
		return n
	}
	if n := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); n != "" {
		return n
	}
	return binaryName()
}

var latest atomic.Pointer[Credentials]

// noteCredentials records c as the newest credentials seen. Invocations arrive concurrently,
// so "newest" means last stored; FC hands every concurrent invocation the current set, and an
// older set stays valid for a while after rotation, so the race is harmless.
func noteCredentials(c Credentials) {
	if c.AccessKeyID == "" {
		return
	}
	if p := latest.Load(); p != nil && *p == c {
		return
	}
	latest.Store(&c)
}

// LatestCredentials returns the newest credentials any invocation carried, falling back to the
// instance environment (ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
// ALIBABA_CLOUD_SECURITY_TOKEN) before the first one. SDK credential providers call it on
// every signature, so rotation needs no restart.
func LatestCredentials() (Credentials, bool) {
	if p := latest.Load(); p != nil {
		return *p, true
	}
	c := envCredentials()
	return c, c.AccessKeyID != ""
}

func envCredentials() Credentials {
	return Credentials{
		AccessKeyID:     os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
		AccessKeySecret: os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		SecurityToken:   os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
	}
}
