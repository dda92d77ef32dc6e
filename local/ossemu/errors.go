package ossemu

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
)

// apiError is an OSS error answer: the status, the code clients switch on, and the EC
// (OSS's fine-grained error number, sent as x-oss-ec) that the SDK surfaces as ServiceError.Ec.
type apiError struct {
	Status  int
	Code    string
	Message string
	EC      string
	// extra elements some errors carry (StringToSign for SignatureDoesNotMatch,
	// BucketName, Key ...), written in this order after the common ones.
	extra [][2]string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// with returns a copy of e carrying one more XML element.
func (e *apiError) with(name, value string) *apiError {
	c := *e
	c.extra = append(append([][2]string(nil), e.extra...), [2]string{name, value})
	return &c
}

// withMessage returns a copy of e with another message.
func (e *apiError) withMessage(format string, args ...any) *apiError {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

func newError(status int, code, ec, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message, EC: ec}
}

// The errors OSS answers with, by the codes and messages its documentation lists.
var (
	errAccessDenied          = newError(403, "AccessDenied", "0003-00000001", "You have no right to access this object because of bucket acl.")
	errAccessDeniedBucket    = newError(403, "AccessDenied", "0003-00000201", "You have no right to access this bucket.")
	errRequestExpired        = newError(403, "AccessDenied", "0002-00000069", "Request has expired.")
	errSkewed                = newError(403, "RequestTimeTooSkewed", "0002-00000504", "The difference between the request time and the current time is too large.")
	errInvalidAccessKeyID    = newError(403, "InvalidAccessKeyId", "0002-00000902", "The OSS Access Key Id you provided does not exist in our records.")
	errSignature             = newError(403, "SignatureDoesNotMatch", "0002-00000040", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	errBadAuthorization      = newError(400, "InvalidArgument", "0002-00000011", "Authorization header is invalid.")
	errNoSuchBucket          = newError(404, "NoSuchBucket", "0015-00000101", "The specified bucket does not exist.")
	errBucketExists          = newError(409, "BucketAlreadyExists", "0015-00000104", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	errBucketNotEmpty        = newError(409, "BucketNotEmpty", "0015-00000301", "The bucket you tried to delete is not empty.")
	errInvalidBucketName     = newError(400, "InvalidBucketName", "0015-00000001", "The specified bucket is not valid.")
	errNoSuchKey             = newError(404, "NoSuchKey", "0026-00000001", "The specified key does not exist.")
	errInvalidObjectName     = newError(400, "InvalidObjectName", "0016-00000005", "The specified object is not valid.")
	errNoSuchUpload          = newError(404, "NoSuchUpload", "0042-00000002", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	errInvalidPart           = newError(400, "InvalidPart", "0042-00000216", "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.")
	errInvalidPartOrder      = newError(400, "InvalidPartOrder", "0042-00000217", "The list of parts was not in ascending order. Parts list must specified in order by part number.")
	errEntityTooSmall        = newError(400, "EntityTooSmall", "0042-00000219", "Your proposed upload smaller than the minimum allowed size.")
	errEntityTooLarge        = newError(400, "EntityTooLarge", "0016-00000201", "Your proposed upload exceeds the maximum allowed size.")
	errInvalidDigest         = newError(400, "InvalidDigest", "0016-00000208", "The Content-MD5 you specified is not valid.")
	errInvalidArgument       = newError(400, "InvalidArgument", "0016-00000104", "Invalid argument.")
	errMalformedXML          = newError(400, "MalformedXML", "0016-00000608", "The XML you provided was not well-formed or did not validate against our published schema.")
	errInvalidObjectState    = newError(403, "InvalidObjectState", "0016-00000602", "The operation is not valid for the object's state")
	errRestoreInProgress     = newError(409, "RestoreAlreadyInProgress", "0016-00000703", "The restore operation is in progress.")
	errOperationNotSupported = newError(400, "OperationNotSupported", "0016-00000702", "The operation is not supported for this resource")
	errMethodNotAllowed      = newError(405, "MethodNotAllowed", "0003-00000002", "The specified method is not allowed against this resource.")
	errNotImplemented        = newError(501, "NotImplemented", "0003-00000501", "The requested operation is not implemented by the local OSS emulator.")
	errPreconditionFailed    = newError(412, "PreconditionFailed", "0026-00000003", "At least one of the pre-conditions you specified did not hold.")
	errInvalidRange          = newError(416, "InvalidRange", "0026-00000004", "The requested range cannot be satisfied.")
	errObjectNotAppendable   = newError(409, "ObjectNotAppendable", "0016-00000302", "The object is not appendable")
	errPositionNotEqual      = newError(409, "PositionNotEqualToLength", "0016-00000301", "Position is not equal to file length")
	errFileAlreadyExists     = newError(409, "FileAlreadyExists", "0016-00000207", "The object you specified already exists and can not be overwritten.")
	errMalformedPOST         = newError(400, "MalformedPOSTRequest", "0016-00000101", "The body of your POST request is not well-formed multipart/form-data.")
	errPolicy                = newError(403, "AccessDenied", "0002-00000708", "Invalid according to Policy: Policy Condition failed")
	errCORSForbidden         = newError(403, "AccessForbidden", "0003-00000101", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	errNoSuchCORS            = newError(404, "NoSuchCORSConfiguration", "0014-00000001", "The CORS Configuration does not exist.")
	errMissingContentLength  = newError(411, "MissingContentLength", "0016-00000202", "You must provide the Content-Length HTTP header.")
	errInternal              = newError(500, "InternalError", "0003-00000500", "We encountered an internal error. Please try again.")
	errServiceClosed         = newError(503, "ServiceUnavailable", "0003-00000503", "The local OSS emulator is shutting down.")
)

// xmlText escapes s for XML character data.
func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// errorXML renders e as OSS's <Error> document.
func errorXML(e *apiError, requestID, host string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error>\n")
	fmt.Fprintf(&b, "  <Code>%s</Code>\n  <Message>%s</Message>\n  <RequestId>%s</RequestId>\n  <HostId>%s</HostId>\n",
		xmlText(e.Code), xmlText(e.Message), requestID, xmlText(host))
	for _, kv := range e.extra {
		fmt.Fprintf(&b, "  <%s>%s</%s>\n", kv[0], xmlText(kv[1]), kv[0])
	}
	fmt.Fprintf(&b, "  <EC>%s</EC>\n", e.EC)
	b.WriteString("</Error>\n")
	return b.Bytes()
}

// writeError answers with e. A HEAD answer has no body, so OSS moves the document into the
// x-oss-err header (base64), where the SDK looks for it.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError, requestID string) {
	body := errorXML(e, requestID, r.Host)
	h := w.Header()
	// Headers set for a success answer must not leak into the error.
	for _, k := range []string{"ETag", "Last-Modified", "Content-Length", "Content-Range", "Accept-Ranges",
		"Content-Md5", "X-Oss-Hash-Crc64ecma", "X-Oss-Object-Type", "X-Oss-Storage-Class", "X-Oss-Restore"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/xml")
	h.Set("x-oss-ec", e.EC)
	if r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(body))
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}
