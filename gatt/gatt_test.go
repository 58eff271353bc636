package gatt

import (
	"testing"

	"github.com/gogatt/gogatt/bt"
)

func TestPropertiesString(t *testing.T) {
	for _, tc := range []struct {
		p    Properties
		want string
	}{
		{0, "none"},
		{PropRead, "read"},
		{PropRead | PropNotify, "read|notify"},
		{PropBroadcast | PropWriteWithoutResponse | PropWrite | PropIndicate, "broadcast|write-without-response|write|indicate"},
		{PropAuthenticatedSignedWrites | PropExtendedProperties, "authenticated-signed-writes|extended-properties"},
		{0xFF, "broadcast|read|write-without-response|write|notify|indicate|authenticated-signed-writes|extended-properties"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("Properties(0x%02x).String() = %q, want %q", uint8(tc.p), got, tc.want)
		}
	}
}

// TestPropertyBits checks the bit values against Core v5.3 Vol 3 Part G §3.3.1.1, Table 3.5.
func TestPropertyBits(t *testing.T) {
	bits := []Properties{PropBroadcast, PropRead, PropWriteWithoutResponse, PropWrite, PropNotify, PropIndicate,
		PropAuthenticatedSignedWrites, PropExtendedProperties}
	for i, p := range bits {
		if p != 1<<i {
			t.Errorf("bit %d = 0x%02x, want 0x%02x", i, uint8(p), 1<<i)
		}
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		u    bt.UUID
		want string
	}{
		{UUIDHeartRateMeasurement, "Heart Rate Measurement"},
		{UUIDHeartRate, "Heart Rate"},
		{UUIDCCCD, "Client Characteristic Configuration"},
		{UUIDPrimaryService, "Primary Service"},
		{UUIDServiceChanged, "Service Changed"},
		{UUIDModelNumber, "Model Number String"},
		{bt.UUID16(0x2A99), ""},
		{bt.UUID32(0x12345678), ""},
		{bt.MustParseUUID("12345678-1234-1234-1234-123456789abc"), ""},
	} {
		if got := Name(tc.u); got != tc.want {
			t.Errorf("Name(%s) = %q, want %q", tc.u.Short(), got, tc.want)
		}
	}
}

// TestWellKnownUUIDsHaveNames keeps the table and the variables in step.
func TestWellKnownUUIDsHaveNames(t *testing.T) {
	for _, u := range []bt.UUID{UUIDPrimaryService, UUIDSecondaryService, UUIDInclude, UUIDCharacteristic,
		UUIDExtendedProperties, UUIDUserDescription, UUIDCCCD, UUIDSCCD, UUIDPresentationFormat,
		UUIDGenericAccess, UUIDGenericAttribute, UUIDHealthThermometer, UUIDDeviceInformation, UUIDHeartRate, UUIDBattery,
		UUIDDeviceName, UUIDAppearance, UUIDServiceChanged, UUIDBatteryLevel, UUIDTemperatureMeasurement,
		UUIDTemperatureType, UUIDIntermediateTemperature, UUIDMeasurementInterval, UUIDModelNumber, UUIDSerialNumber,
		UUIDFirmwareRevision, UUIDHardwareRevision, UUIDSoftwareRevision, UUIDManufacturerName,
		UUIDHeartRateMeasurement, UUIDBodySensorLocation, UUIDHeartRateControlPoint} {
		if Name(u) == "" {
			t.Errorf("%s has no name", u.Short())
		}
	}
}
