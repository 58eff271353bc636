package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/gatt"
)

// Bounds of the completions that ask the adapter (a shell waits for them).
const (
	// completionScan is how long the scan lasts whose devices complete an ADDRESS.
	completionScan = 2 * time.Second
	// completionLimit bounds a whole completion that reaches the adapter: opening it (within
	// --timeout too), then the scan, or connecting and discovering the services.
	completionLimit = 5 * time.Second
)

// runCompletion prints the completion script cobra generates for the command tree. The script
// asks the binary (the hidden __complete command) for the words to offer.
func runCompletion(_ context.Context, a *app, args []string) error {
	w := a.env.Stdout
	switch args[0] {
	case "bash":
		return a.root.GenBashCompletionV2(w, true)
	case "zsh":
		return a.root.GenZshCompletion(w)
	case "fish":
		return a.root.GenFishCompletion(w, true)
	case "powershell":
		return a.root.GenPowerShellCompletionWithDesc(w)
	}
	return usagef("unknown shell %q: want bash, zsh, fish or powershell", args[0])
}

// completeArgs completes c's arguments by their names in c.args: an ADDRESS from a short
// scan, a CHAR from the device's service tree, a choice "a|b|c" from its words.
// o holds c's flags as parsed from the line.
func (a *app) completeArgs(c *command, o *opts) cobra.CompletionFunc {
	return func(cc *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		a.opts = *o
		words := strings.Fields(c.args)
		if len(args) >= len(words) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		switch w := strings.Trim(words[len(args)], "[]"); {
		case w == "ADDRESS":
			return a.completeAddresses(cc.Context(), toComplete), cobra.ShellCompDirectiveNoFileComp
		case w == "CHAR":
			return a.completeChars(cc.Context(), args[0], toComplete), cobra.ShellCompDirectiveNoFileComp
		case strings.Contains(w, "|"):
			return withPrefix(strings.Split(w, "|"), toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// flagChoices are the values a flag takes, when it takes a fixed set.
func flagChoices(name string) []cobra.Completion {
	switch name {
	case "backend":
		return []cobra.Completion{"bgapi\tBLED112 dongle (BGAPI)", "bluez\tBlueZ's bluetoothd over D-Bus", "gatttool\tBlueZ's gatttool"}
	case "format":
		return []cobra.Completion{"auto\tdecode known characteristics, hex otherwise", "hex", "utf8", "int\tintegers (--size, --signed, --endian)"}
	case "endian":
		return []cobra.Completion{"little", "big"}
	case "size":
		return []cobra.Completion{"1", "2", "4", "8"}
	case "address-type":
		return []cobra.Completion{"public", "random"}
	case "notify":
		return []cobra.Completion{"auto\tAcquireNotify, StartNotify where bluetoothd refuses it", "start\tStartNotify only", "acquire\tAcquireNotify only"}
	}
	return nil
}

// registerFlagCompletions completes the values of every flag of the tree: fixed choices,
// addresses for demo's --address, paths for --port; nothing (no file names) for the others.
func (a *app) registerFlagCompletions(root *cobra.Command) {
	register := func(cc *cobra.Command, fs *pflag.FlagSet) {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.NoOptDefVal != "" { // a bool: no value to complete
				return
			}
			var fn cobra.CompletionFunc
			switch choices := flagChoices(f.Name); {
			case choices != nil:
				fn = func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return withPrefix(choices, toComplete), cobra.ShellCompDirectiveNoFileComp
				}
			case f.Name == "port":
				return // file names: a serial port's path
			case f.Name == "address":
				fn = func(cc *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return a.completeAddresses(cc.Context(), toComplete), cobra.ShellCompDirectiveNoFileComp
				}
			default:
				fn = cobra.NoFileCompletions
			}
			// Errors only for a flag registered twice or unknown: neither happens here.
			_ = cc.RegisterFlagCompletionFunc(f.Name, fn)
		})
	}
	register(root, root.PersistentFlags())
	for _, cc := range root.Commands() {
		register(cc, cc.LocalNonPersistentFlags())
	}
}

// completeAddresses offers the addresses a short scan finds, each with its name: nothing when
// the adapter cannot be reached.
func (a *app) completeAddresses(ctx context.Context, toComplete string) []cobra.Completion {
	if a.checkGlobals() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, completionLimit)
	defer cancel()
	b, stop, err := a.start(ctx)
	if err != nil {
		a.log.Debug("completing an address", "err", err)
		return nil
	}
	defer stop()
	ds, _, err := a.scan(ctx, b, completionScan, "", false, scanOutput{})
	if err != nil {
		a.log.Debug("completing an address", "err", err)
	}
	var out []cobra.Completion
	for _, d := range ds {
		if hasPrefixFold(d.Address, toComplete) {
			desc := fmt.Sprintf("%d dBm", d.RSSI)
			if d.Name != "" {
				desc = d.Name + ", " + desc
			}
			out = append(out, cobra.CompletionWithDesc(d.Address, desc))
		}
	}
	return out
}

// completeChars offers the characteristics of the device at address: by UUID when it is
// unique on the device, as SERVICE/CHAR when it is not (or when "/" was typed), by handle:N
// when "h" was typed; each with its name and service. Nothing when the device cannot be
// reached.
func (a *app) completeChars(ctx context.Context, address, toComplete string) []cobra.Completion {
	if a.checkGlobals() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, completionLimit)
	defer cancel()
	s, err := a.connect(ctx, address)
	if err != nil {
		a.log.Debug("completing a characteristic", "err", err)
		return nil
	}
	defer s.close()
	services, err := s.dev.Services(ctx)
	if err != nil {
		a.log.Debug("completing a characteristic", "err", err)
		return nil
	}
	count := map[gogatt.UUID]int{}
	for _, sv := range services {
		for _, c := range sv.Characteristics {
			count[c.UUID]++
		}
	}
	byHandle := strings.HasPrefix(strings.ToLower(toComplete), "h")
	qualified := strings.Contains(toComplete, "/")
	var out []cobra.Completion
	for _, sv := range services {
		svc := sv.UUID.Short()
		if n := gatt.Name(sv.UUID); n != "" {
			svc += " " + n
		}
		for _, c := range sv.Characteristics {
			desc := gatt.Name(c.UUID)
			if desc != "" {
				desc += ", "
			}
			desc += "in " + svc
			var word string
			switch {
			case byHandle:
				word = fmt.Sprintf("handle:0x%04x", c.ValueHandle)
			case qualified || count[c.UUID] > 1:
				word = sv.UUID.Short() + "/" + c.UUID.Short()
			default:
				word = c.UUID.Short()
			}
			if hasPrefixFold(word, toComplete) {
				out = append(out, cobra.CompletionWithDesc(word, desc))
			}
		}
	}
	return out
}

// withPrefix keeps the completions ("word" or "word\tdescription") whose word starts with
// prefix.
func withPrefix(words []cobra.Completion, prefix string) []cobra.Completion {
	return slices.DeleteFunc(slices.Clone(words), func(w cobra.Completion) bool { return !strings.HasPrefix(w, prefix) })
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
