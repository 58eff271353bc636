module github.com/gogatt/gogatt

go 1.26

require (
	github.com/creack/pty v1.1.24
	github.com/godbus/dbus/v5 v5.2.4
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.9
	go.bug.st/serial v1.8.0
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.43.0
	golang.org/x/term v0.42.0
)

require github.com/inconshreveable/mousetrap v1.1.0 // indirect
