module github.com/gogatt/gogatt

go 1.26

require (
	github.com/creack/pty v1.1.24 // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	go.bug.st/serial v1.8.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
)
