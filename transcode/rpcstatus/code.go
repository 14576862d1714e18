package rpcstatus

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// StatusClientClosed is the HTTP status for CANCELLED (nginx's 499): the
// caller went away, so nobody reads it, but logs and metrics show why.
const StatusClientClosed = 499

// HTTPStatus maps a gRPC code to the HTTP status refract answers with. The
// table is the standard one (google.rpc.Code's documentation, as grpc-gateway
// uses); unknown codes map to 500. Safe for concurrent use.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return StatusClientClosed
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default: // Unknown, Internal, DataLoss and codes we do not know
		return http.StatusInternalServerError
	}
}

// Code maps an HTTP status back to a gRPC code: the inverse of HTTPStatus
// wherever one code is the natural reading of the status (2xx OK, 400
// INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
// NOT_FOUND, 429 RESOURCE_EXHAUSTED, 499 CANCELLED, 500 INTERNAL, 501
// UNIMPLEMENTED, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED). Any other status,
// 409 included (ALREADY_EXISTS or ABORTED: the status cannot tell), is
// UNKNOWN, so a caller that knows more (an authorizer's denial is
// PERMISSION_DENIED) can choose its own default. Safe for concurrent use.
func Code(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case StatusClientClosed:
		return codes.Canceled
	case http.StatusInternalServerError:
		return codes.Internal
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	if httpStatus >= 200 && httpStatus < 300 {
		return codes.OK
	}
	return codes.Unknown
}
