package otsemu

import (
	"fmt"
	"net/http"
)

// Error codes the emulator returns, spelled as Tablestore spells them.
const (
	CodeAuthFailed           = "OTSAuthFailed"
	CodeParameterInvalid     = "OTSParameterInvalid"
	CodeInvalidPK            = "OTSInvalidPK"
	CodeObjectNotExist       = "OTSObjectNotExist"
	CodeObjectAlreadyExist   = "OTSObjectAlreadyExist"
	CodeConditionCheckFail   = "OTSConditionCheckFail"
	CodeRequestBodyTooLarge  = "OTSRequestBodyTooLarge"
	CodeMethodNotAllowed     = "OTSMethodNotAllowed"
	CodeQuotaExhausted       = "OTSQuotaExhausted"
	CodeInternalServerError  = "OTSInternalServerError"
	CodeServerBusy           = "OTSServerBusy"
	CodeRowOperationConflict = "OTSRowOperationConflict"
	CodeTimeout              = "OTSTimeout"
	CodeServerUnavailable    = "OTSServerUnavailable"
	CodeNotEnoughCapacity    = "OTSNotEnoughCapacityUnit"
	CodeTableNotReady        = "OTSTableNotReady"
	CodePartitionUnavailable = "OTSPartitionUnavailable"
	CodeStorageServerBusy    = "OTSStorageServerBusy"
)

// codeInfo is the HTTP status and default message of a code, per Tablestore's error table.
var codeInfo = map[string]struct {
	status  int
	message string
}{
	CodeAuthFailed:           {http.StatusForbidden, "Signature mismatch."},
	CodeParameterInvalid:     {http.StatusBadRequest, "The input parameter is invalid."},
	CodeInvalidPK:            {http.StatusBadRequest, "The primary key is invalid."},
	CodeObjectNotExist:       {http.StatusNotFound, "Requested table does not exist."},
	CodeObjectAlreadyExist:   {http.StatusConflict, "Requested table already exists."},
	CodeConditionCheckFail:   {http.StatusForbidden, "Condition check failed."},
	CodeRequestBodyTooLarge:  {http.StatusRequestEntityTooLarge, "The size of POST data is too large."},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "Only POST method for requests is supported."},
	CodeQuotaExhausted:       {http.StatusForbidden, "Too frequent table operations."},
	CodeInternalServerError:  {http.StatusInternalServerError, "Internal server error."},
	CodeServerBusy:           {http.StatusServiceUnavailable, "Server is busy."},
	CodeRowOperationConflict: {http.StatusConflict, "Data is being modified by the other request."},
	CodeTimeout:              {http.StatusServiceUnavailable, "Operation timeout."},
	CodeServerUnavailable:    {http.StatusServiceUnavailable, "Server is unavailable."},
	CodeNotEnoughCapacity:    {http.StatusForbidden, "Remaining capacity unit is not enough."},
	CodeTableNotReady:        {http.StatusNotFound, "The table is not ready."},
	CodePartitionUnavailable: {http.StatusServiceUnavailable, "The partition is not available."},
	CodeStorageServerBusy:    {http.StatusServiceUnavailable, "Storage server is busy."},
}

// apiError is an error as the protocol carries it: protobuf Error{code, message} with an
// HTTP status (or, inside batch responses, a per-row Error).
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// newError builds an error with the code's status and default message.
func newError(code string) *apiError {
	info, ok := codeInfo[code]
	if !ok {
		return &apiError{status: http.StatusServiceUnavailable, code: code, message: "Injected fault."}
	}
	return &apiError{status: info.status, code: code, message: info.message}
}

func errorf(code, format string, args ...any) *apiError {
	e := newError(code)
	e.message = fmt.Sprintf(format, args...)
	return e
}

func invalid(format string, args ...any) *apiError {
	return errorf(CodeParameterInvalid, format, args...)
}

func invalidPK(format string, args ...any) *apiError {
	return errorf(CodeInvalidPK, format, args...)
}

var (
	errNoTable      = newError(CodeObjectNotExist)
	errTableExists  = newError(CodeObjectAlreadyExist)
	errCondition    = newError(CodeConditionCheckFail)
	errTransactions = invalid("TransactionID is invalid.")
)
