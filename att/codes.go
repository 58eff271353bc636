// Package att is a pure codec for Attribute Protocol PDUs (Core v5.3 Vol 3 Part F §3.4):
// opcodes, error codes and the encoding and decoding of every PDU. It performs no I/O.
package att

import "fmt"

// ErrorCode is an ATT error code carried in an Error Response (Core v5.3 Vol 3 Part F
// §3.4.1.1, Table 3.4).
type ErrorCode uint8

// Error codes, Core v5.3 Vol 3 Part F §3.4.1.1 Table 3.4; 0x80–0x9F are application errors,
// 0xE0–0xFF common profile and service errors (Core Supplement Part B).
const (
	ErrInvalidHandle                 ErrorCode = 0x01
	ErrReadNotPermitted              ErrorCode = 0x02
	ErrWriteNotPermitted             ErrorCode = 0x03
	ErrInvalidPDU                    ErrorCode = 0x04
	ErrInsufficientAuthentication    ErrorCode = 0x05
	ErrRequestNotSupported           ErrorCode = 0x06
	ErrInvalidOffset                 ErrorCode = 0x07
	ErrInsufficientAuthorization     ErrorCode = 0x08
	ErrPrepareQueueFull              ErrorCode = 0x09
	ErrAttributeNotFound             ErrorCode = 0x0A
	ErrAttributeNotLong              ErrorCode = 0x0B
	ErrInsufficientEncryptionKeySize ErrorCode = 0x0C
	ErrInvalidAttributeValueLength   ErrorCode = 0x0D
	ErrUnlikelyError                 ErrorCode = 0x0E
	ErrInsufficientEncryption        ErrorCode = 0x0F
	ErrUnsupportedGroupType          ErrorCode = 0x10
	ErrInsufficientResources         ErrorCode = 0x11
	ErrDatabaseOutOfSync             ErrorCode = 0x12
	ErrValueNotAllowed               ErrorCode = 0x13
	ErrWriteRequestRejected          ErrorCode = 0xFC
	ErrCCCDImproperlyConfigured      ErrorCode = 0xFD
	ErrProcedureAlreadyInProgress    ErrorCode = 0xFE
	ErrOutOfRange                    ErrorCode = 0xFF
)

var errorNames = map[ErrorCode]string{
	ErrInvalidHandle:                 "Invalid Handle",
	ErrReadNotPermitted:              "Read Not Permitted",
	ErrWriteNotPermitted:             "Write Not Permitted",
	ErrInvalidPDU:                    "Invalid PDU",
	ErrInsufficientAuthentication:    "Insufficient Authentication",
	ErrRequestNotSupported:           "Request Not Supported",
	ErrInvalidOffset:                 "Invalid Offset",
	ErrInsufficientAuthorization:     "Insufficient Authorization",
	ErrPrepareQueueFull:              "Prepare Queue Full",
	ErrAttributeNotFound:             "Attribute Not Found",
	ErrAttributeNotLong:              "Attribute Not Long",
	ErrInsufficientEncryptionKeySize: "Insufficient Encryption Key Size",
	ErrInvalidAttributeValueLength:   "Invalid Attribute Value Length",
	ErrUnlikelyError:                 "Unlikely Error",
	ErrInsufficientEncryption:        "Insufficient Encryption",
	ErrUnsupportedGroupType:          "Unsupported Group Type",
	ErrInsufficientResources:         "Insufficient Resources",
	ErrDatabaseOutOfSync:             "Database Out Of Sync",
	ErrValueNotAllowed:               "Value Not Allowed",
	ErrWriteRequestRejected:          "Write Request Rejected",
	ErrCCCDImproperlyConfigured:      "Client Characteristic Configuration Descriptor Improperly Configured",
	ErrProcedureAlreadyInProgress:    "Procedure Already in Progress",
	ErrOutOfRange:                    "Out of Range",
}

// String returns the specification's name of the code, e.g. "Insufficient Encryption".
func (c ErrorCode) String() string {
	if n, ok := errorNames[c]; ok {
		return n
	}
	switch {
	case c >= 0x80 && c <= 0x9F:
		return fmt.Sprintf("Application Error 0x%02X", uint8(c))
	case c >= 0xE0:
		return fmt.Sprintf("Common Profile Error 0x%02X", uint8(c))
	}
	return fmt.Sprintf("Reserved Error 0x%02X", uint8(c))
}
