package wire

import (
	"fmt"

	"github.com/gogatt/gogatt/att"
)

// Result is the u16 error code carried by responses and events (BLE SDK 1.x API reference
// §5.11). The high byte names the space: 0x01 BGAPI (stack/command), 0x02 HCI (controller
// error code in the low byte), 0x03 SMP pairing-failed reason, 0x04 ATT error code from the
// remote server.
type Result uint16

// Result codes of the BLE SDK 1.x API reference §5.11.
const (
	ResultSuccess Result = 0x0000

	// BGAPI space (0x01xx).
	ResultInvalidParam      Result = 0x0180
	ResultWrongState        Result = 0x0181
	ResultOutOfMemory       Result = 0x0182
	ResultNotImplemented    Result = 0x0183
	ResultInvalidCommand    Result = 0x0184
	ResultTimeout           Result = 0x0185
	ResultNotConnected      Result = 0x0186
	ResultFlow              Result = 0x0187
	ResultUserAttribute     Result = 0x0188
	ResultInvalidLicenseKey Result = 0x0189
	ResultCommandTooLong    Result = 0x018A
	ResultOutOfBonds        Result = 0x018B
	ResultScriptOverflow    Result = 0x018C

	// HCI space (0x02xx).
	ResultHCISuccess                      Result = 0x0200
	ResultAuthenticationFailure           Result = 0x0205
	ResultPinOrKeyMissing                 Result = 0x0206
	ResultMemoryCapacityExceeded          Result = 0x0207
	ResultConnectionTimeout               Result = 0x0208
	ResultConnectionLimitExceeded         Result = 0x0209
	ResultCommandDisallowed               Result = 0x020C
	ResultInvalidCommandParameters        Result = 0x0212
	ResultRemoteUserTerminated            Result = 0x0213
	ResultConnectionTerminatedByLocalHost Result = 0x0216
	ResultLLResponseTimeout               Result = 0x0222
	ResultLLInstantPassed                 Result = 0x0228
	ResultControllerBusy                  Result = 0x023A
	ResultUnacceptableConnectionInterval  Result = 0x023B
	ResultDirectedAdvertisingTimeout      Result = 0x023C
	ResultMICFailure                      Result = 0x023D
	ResultConnectionFailedToBeEstablished Result = 0x023E

	// SMP space (0x03xx).
	ResultPasskeyEntryFailed         Result = 0x0301
	ResultOOBNotAvailable            Result = 0x0302
	ResultAuthenticationRequirements Result = 0x0303
	ResultConfirmValueFailed         Result = 0x0304
	ResultPairingNotSupported        Result = 0x0305
	ResultEncryptionKeySize          Result = 0x0306
	ResultSMPCommandNotSupported     Result = 0x0307
	ResultUnspecifiedReason          Result = 0x0308
	ResultRepeatedAttempts           Result = 0x0309
	ResultSMPInvalidParameters       Result = 0x030A

	// ATT space (0x04xx); see also ResultFromATT.
	ResultATTInvalidHandle                 Result = 0x0401
	ResultATTReadNotPermitted              Result = 0x0402
	ResultATTWriteNotPermitted             Result = 0x0403
	ResultATTInvalidPDU                    Result = 0x0404
	ResultATTInsufficientAuthentication    Result = 0x0405
	ResultATTRequestNotSupported           Result = 0x0406
	ResultATTInvalidOffset                 Result = 0x0407
	ResultATTInsufficientAuthorization     Result = 0x0408
	ResultATTPrepareQueueFull              Result = 0x0409
	ResultATTAttributeNotFound             Result = 0x040A
	ResultATTAttributeNotLong              Result = 0x040B
	ResultATTInsufficientEncryptionKeySize Result = 0x040C
	ResultATTInvalidAttributeValueLength   Result = 0x040D
	ResultATTUnlikelyError                 Result = 0x040E
	ResultATTInsufficientEncryption        Result = 0x040F
	ResultATTUnsupportedGroupType          Result = 0x0410
	ResultATTInsufficientResources         Result = 0x0411
	ResultATTApplicationError              Result = 0x0480
)

// resultName returns the name of a known code.
func resultName(r Result) (string, bool) {
	switch r {
	case ResultSuccess:
		return "success", true
	case ResultInvalidParam:
		return "invalid_param", true
	case ResultWrongState:
		return "wrong_state", true
	case ResultOutOfMemory:
		return "out_of_memory", true
	case ResultNotImplemented:
		return "not_implemented", true
	case ResultInvalidCommand:
		return "invalid_command", true
	case ResultTimeout:
		return "timeout", true
	case ResultNotConnected:
		return "not_connected", true
	case ResultFlow:
		return "flow", true
	case ResultUserAttribute:
		return "user_attribute", true
	case ResultInvalidLicenseKey:
		return "invalid_license_key", true
	case ResultCommandTooLong:
		return "command_too_long", true
	case ResultOutOfBonds:
		return "out_of_bonds", true
	case ResultScriptOverflow:
		return "script_overflow", true
	case ResultHCISuccess:
		return "hci_success", true
	case ResultAuthenticationFailure:
		return "authentication_failure", true
	case ResultPinOrKeyMissing:
		return "pin_or_key_missing", true
	case ResultMemoryCapacityExceeded:
		return "memory_capacity_exceeded", true
	case ResultConnectionTimeout:
		return "connection_timeout", true
	case ResultConnectionLimitExceeded:
		return "connection_limit_exceeded", true
	case ResultCommandDisallowed:
		return "command_disallowed", true
	case ResultInvalidCommandParameters:
		return "invalid_command_parameters", true
	case ResultRemoteUserTerminated:
		return "remote_user_terminated", true
	case ResultConnectionTerminatedByLocalHost:
		return "connection_terminated_by_local_host", true
	case ResultLLResponseTimeout:
		return "ll_response_timeout", true
	case ResultLLInstantPassed:
		return "ll_instant_passed", true
	case ResultControllerBusy:
		return "controller_busy", true
	case ResultUnacceptableConnectionInterval:
		return "unacceptable_connection_interval", true
	case ResultDirectedAdvertisingTimeout:
		return "directed_advertising_timeout", true
	case ResultMICFailure:
		return "mic_failure", true
	case ResultConnectionFailedToBeEstablished:
		return "connection_failed_to_be_established", true
	case ResultPasskeyEntryFailed:
		return "passkey_entry_failed", true
	case ResultOOBNotAvailable:
		return "oob_not_available", true
	case ResultAuthenticationRequirements:
		return "authentication_requirements", true
	case ResultConfirmValueFailed:
		return "confirm_value_failed", true
	case ResultPairingNotSupported:
		return "pairing_not_supported", true
	case ResultEncryptionKeySize:
		return "encryption_key_size", true
	case ResultSMPCommandNotSupported:
		return "command_not_supported", true
	case ResultUnspecifiedReason:
		return "unspecified_reason", true
	case ResultRepeatedAttempts:
		return "repeated_attempts", true
	case ResultSMPInvalidParameters:
		return "invalid_parameters", true
	case ResultATTInvalidHandle:
		return "invalid_handle", true
	case ResultATTReadNotPermitted:
		return "read_not_permitted", true
	case ResultATTWriteNotPermitted:
		return "write_not_permitted", true
	case ResultATTInvalidPDU:
		return "invalid_pdu", true
	case ResultATTInsufficientAuthentication:
		return "insufficient_authentication", true
	case ResultATTRequestNotSupported:
		return "request_not_supported", true
	case ResultATTInvalidOffset:
		return "invalid_offset", true
	case ResultATTInsufficientAuthorization:
		return "insufficient_authorization", true
	case ResultATTPrepareQueueFull:
		return "prepare_queue_full", true
	case ResultATTAttributeNotFound:
		return "attribute_not_found", true
	case ResultATTAttributeNotLong:
		return "attribute_not_long", true
	case ResultATTInsufficientEncryptionKeySize:
		return "insufficient_encryption_key_size", true
	case ResultATTInvalidAttributeValueLength:
		return "invalid_attribute_value_length", true
	case ResultATTUnlikelyError:
		return "unlikely_error", true
	case ResultATTInsufficientEncryption:
		return "insufficient_encryption", true
	case ResultATTUnsupportedGroupType:
		return "unsupported_group_type", true
	case ResultATTInsufficientResources:
		return "insufficient_resources", true
	}
	return "", false
}

// ResultSpace is the error space of a Result (its high byte; docs/bgapi-protocol.md §Result
// codes).
type ResultSpace uint8

// Result spaces.
const (
	SpaceSuccess ResultSpace = 0x00 // 0x0000
	SpaceBGAPI   ResultSpace = 0x01 // stack / command errors
	SpaceHCI     ResultSpace = 0x02 // Bluetooth controller (HCI) error codes
	SpaceSMP     ResultSpace = 0x03 // SMP pairing-failed reasons
	SpaceATT     ResultSpace = 0x04 // ATT error codes from the remote server
	SpaceUnknown ResultSpace = 0xFF // any other high byte
)

// String names the space.
func (s ResultSpace) String() string {
	switch s {
	case SpaceSuccess:
		return "success"
	case SpaceBGAPI:
		return "bgapi"
	case SpaceHCI:
		return "hci"
	case SpaceSMP:
		return "smp"
	case SpaceATT:
		return "att"
	}
	return "unknown"
}

// Space returns the error space of r. A non-zero code with a high byte of 0 is SpaceUnknown.
func (r Result) Space() ResultSpace {
	if r == 0 {
		return SpaceSuccess
	}
	switch hi := ResultSpace(r >> 8); hi {
	case SpaceBGAPI, SpaceHCI, SpaceSMP, SpaceATT:
		return hi
	}
	return SpaceUnknown
}

// Code returns the low byte: the code within its space (e.g. the ATT or HCI error code).
func (r Result) Code() uint8 { return uint8(r) }

// OK reports whether r is success (0x0000).
func (r Result) OK() bool { return r == ResultSuccess }

// ATT returns the ATT error code if r is in the ATT space (0x04xx).
func (r Result) ATT() (att.ErrorCode, bool) {
	if r.Space() != SpaceATT {
		return 0, false
	}
	return att.ErrorCode(r.Code()), true
}

// ResultFromATT maps an ATT error code to its 0x04xx Result.
func ResultFromATT(c att.ErrorCode) Result { return 0x0400 | Result(c) }

// ResultFromHCI maps an HCI error code to its 0x02xx Result.
func ResultFromHCI(c uint8) Result { return 0x0200 | Result(c) }

// ResultFromSMP maps an SMP pairing-failed reason to its 0x03xx Result.
func ResultFromSMP(c uint8) Result { return 0x0300 | Result(c) }

// String returns the code's name (e.g. "invalid_param"); codes without a name get a generic
// name by space, e.g. "att_application_error_0x85", "hci_error_0x3F".
func (r Result) String() string {
	if n, ok := resultName(r); ok {
		return n
	}
	switch r.Space() {
	case SpaceBGAPI:
		return fmt.Sprintf("bgapi_error_0x%02X", r.Code())
	case SpaceHCI:
		return fmt.Sprintf("hci_error_0x%02X", r.Code())
	case SpaceSMP:
		return fmt.Sprintf("smp_error_0x%02X", r.Code())
	case SpaceATT:
		if r.Code() >= 0x80 && r.Code() <= 0x9F {
			return fmt.Sprintf("att_application_error_0x%02X", r.Code())
		}
		return fmt.Sprintf("att_error_0x%02X", r.Code())
	}
	return fmt.Sprintf("unknown_result_0x%04X", uint16(r))
}

// Error makes a non-success Result usable as an error: "bgapi result 0x0181 wrong_state".
func (r Result) Error() string {
	return fmt.Sprintf("bgapi result 0x%04X %s", uint16(r), r.String())
}
