// Package runtime runs one function binary under whichever platform started it: Function
// Compute's go1 runtime (through fc-runtime-go-sdk), FC's custom runtime (an HTTP server), AWS
// Lambda (through aws-lambda-go) or plain HTTP for development. It owns the translation between
// each platform's invocation format and the provider-neutral handlers a function is written as
// (an http.Handler, a func of ObjectEvent, a func of TimerEvent); the per-invocation context
// (request id, credentials, retry count); the initializer and preStop lifecycle; and the
// process's logging set-up. A function's main calls exactly one of HTTP, Objects or Timer.
//
// The platform is chosen from the environment (see Detect): FC_RUNTIME_API → FC go1;
// AWS_LAMBDA_RUNTIME_API → Lambda; FC_SERVER_PORT, FC_CUSTOM_LISTEN_PORT or FC_FUNCTION_NAME →
// FC custom runtime on 0.0.0.0:$FC_SERVER_PORT (default 9000); otherwise dev mode on $PORT
// (default 8080). With FCLOCAL=1 (the local cloud) both servers bind 127.0.0.1 instead.
//
// Rules a handler can rely on, whatever the platform:
//   - The request context carries the invocation: RequestID, CredentialsFrom, RetryCount,
//     FunctionName. LatestCredentials gives SDK clients the newest credentials.
//   - The custom runtime removes x-fc-access-key-secret and x-fc-security-token from
//     r.Header; dev mode believes no x-fc-* credential header at all.
//   - A panic is a failed invocation: a 500 problem+json for HTTP (or a cut connection when
//     the response had already started), an error of type "Panic" for events. The process
//     lives on.
//   - Event functions fail an invocation whose payload has the wrong shape with errorType
//     "InvalidEvent"; a failing record fails the whole event after the other records ran, and
//     the platform redelivers all of them, so handlers must be idempotent.
//   - On the go1 runtime an HTTP request arrives as an event, so: repeated query values come
//     comma-joined in one value (take lists as one comma-separated parameter); a response
//     carries one value per header, repeated headers are comma-joined, and only the first of
//     several Set-Cookie headers survives (a warning names the cookie); bodies that are not
//     valid UTF-8 travel base64. Lambda carries every Set-Cookie.
//   - Logs: slog JSON lines on stdout at $LOG_LEVEL (debug, info, warn, error; default info),
//     each with "function" and, when logged with an invocation's context, "request_id". The
//     custom runtime also prints FC's "FC Invoke Start/End RequestId: X" lines around event
//     invocations (the go1 SDK prints its own).
//   - SIGTERM (or SIGINT) stops accepting work, waits up to 30 s for in-flight invocations, runs
//     preStop once (FC may already have run it through its preStop call) and exits 0.
package runtime
