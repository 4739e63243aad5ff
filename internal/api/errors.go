package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error codes of the JSON error object, one per kind of failure, so that a
// client can act on the code and show the message.
const (
	CodeUnauthorized     = "unauthorized"          // 401: no or wrong credentials
	CodeLockedOut        = "locked_out"            // 429: too many failed logins from the address or at the account (Retry-After)
	CodeBadRequest       = "bad_request"           // 400: a malformed parameter
	CodeBadJSON          = "bad_json"              // 400: the body is not the JSON asked for
	CodeTooLarge         = "too_large"             // 413: the body is over MaxBody
	CodeBadSince         = "bad_since"             // 400: a malformed since (OAB version or mailbox state)
	CodeBadWait          = "bad_wait"              // 400: a malformed wait duration
	CodeBadID            = "bad_id"                // 400: a message id that cannot name a message
	CodeNotFound         = "not_found"             // 404: no such path or message
	CodeMethodNotAllowed = "method_not_allowed"    // 405: see the Allow header
	CodeWrongServer      = "wrong_server"          // 421: the caller's mailbox lives on another hub
	CodeNoHomeServer     = "no_home_server"        // 409: the caller's mailbox has no home server
	CodeInternal         = "internal"              // 500: a fault of the hub (logged)
	CodeUnavailable      = "directory_unavailable" // 503: the directory did not answer; try again (Retry-After)
)

// Error is the JSON error object of every failed call.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // a failed write means the client has gone
}

// writeError writes the JSON error object.
func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, Error{Error: fmt.Sprintf(format, args...), Code: code})
}

// decodeBody decodes the JSON object of a request body into v: at most
// max bytes, no unknown fields, nothing after the object. It writes the
// error answer itself and reports whether v may be used.
func decodeBody(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON object")
			var mbe *http.MaxBytesError
			if errors.As(extra, &mbe) {
				err = extra
			}
		}
	}
	if err == nil {
		return true
	}
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "the request body is over %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, CodeBadJSON, "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, CodeBadJSON, "the JSON body ends too early")
	case errors.As(err, &syntax):
		writeError(w, http.StatusBadRequest, CodeBadJSON, "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		writeError(w, http.StatusBadRequest, CodeBadJSON, "%s must be %s, not JSON %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		writeError(w, http.StatusBadRequest, CodeBadJSON, "the body has an unknown field %s (docs/api.md lists the fields of each call)", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		writeError(w, http.StatusBadRequest, CodeBadJSON, "malformed JSON body: %v", err)
	}
	return false
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return k
}
