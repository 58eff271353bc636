// Package vmtest is gogatt's real-kernel test tier: tests (build tag vmtest) that drive the
// gatttool backend, then the bluez (D-Bus) backend, through their public APIs on hci0 of a qemu
// guest against the GATT application of package vmtest/vmperiph on hci1, both controllers being
// the kernel's virtual HCI (hci_vhci) under a real bluetoothd. .ci/vm/run builds the guest and
// runs the tier; docs/real-kernel-tier.md and docs/bluez-dbus.md describe it and what it
// measured.
package vmtest
