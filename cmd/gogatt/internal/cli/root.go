package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpTopics are what 'gogatt help TOPIC' explains besides the commands.
func helpTopics() map[string]string {
	return map[string]string{
		"exit-codes": exitCodesHelp + "\n",
	}
}

// helpTopicNames lists the help topics, sorted.
func helpTopicNames() []string {
	var topics []string
	for t := range helpTopics() {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return topics
}

// helpSummary is the help command's line in the list of commands.
func helpSummary() string {
	return "help about a command, or a topic: " + strings.Join(helpTopicNames(), ", ")
}

// newRoot builds the command tree of one run on the command table: flags parsed with pflag
// (global ones accepted anywhere on the line), the run functions called through runCommand,
// help and completions. With completing it also registers the completion functions of flag
// values (completion.go): cobra keeps those in a process-wide table, so a run that is not a
// completion request leaves nothing there.
func (a *app) newRoot(completing bool) *cobra.Command {
	var version bool
	root := &cobra.Command{
		Use:           "gogatt",
		Short:         "talk to Bluetooth Low Energy devices over GATT",
		SilenceErrors: true,
		SilenceUsage:  true,
		// Suggest commands within 2 edits ("scna": scan) or by prefix ("sub": subscribe).
		SuggestionsMinimumDistance: 2,
		Args: func(cc *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cc, args[0])
			}
			return nil
		},
		RunE: func(cc *cobra.Command, _ []string) error {
			if version {
				return a.runCommand(cc.Context(), lookup("version"), nil)
			}
			a.mainUsage(a.env.Stderr)
			return errUsageShown
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true // the table's completion command replaces it
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.SetFlagErrorFunc(func(cc *cobra.Command, err error) error {
		return usageErr{withFlagSuggestion(cc, err)}
	})
	root.SetHelpFunc(func(cc *cobra.Command, _ []string) { a.help(cc.OutOrStdout(), cc) })
	root.PersistentFlags().SortFlags = false // as registered: the likeliest first
	a.g.register(root.PersistentFlags())
	root.Flags().BoolVar(&version, "version", false, "print the version (same as 'gogatt version')")

	for _, c := range commands {
		// Each command's flags have their own opts (scan's --duration and subscribe's share a
		// field but not a default); the one that runs becomes a.opts.
		o := new(opts)
		cc := &cobra.Command{
			Use:     strings.TrimSpace(c.name + " " + c.args),
			Short:   c.summary,
			Long:    c.long,
			Example: "  " + strings.Join(c.examples, "\n  "),
			Args: func(_ *cobra.Command, args []string) error {
				if len(args) < c.minArgs || (c.maxArgs >= 0 && len(args) > c.maxArgs) {
					return fmt.Errorf("%s takes %s", c.name, c.argsDesc())
				}
				return nil
			},
			ValidArgsFunction: a.completeArgs(c, o),
			RunE: func(cc *cobra.Command, args []string) error {
				a.opts = *o
				return a.runCommand(cc.Context(), c, args)
			},
		}
		cc.Flags().SortFlags = false
		if c.flags != nil {
			c.flags(cc.Flags(), o)
		}
		root.AddCommand(cc)
	}
	root.SetHelpCommand(a.helpCommand())
	if completing {
		a.registerFlagCompletions(root)
	}
	return root
}

// helpCommand is 'gogatt help [COMMAND|TOPIC]'.
func (a *app) helpCommand() *cobra.Command {
	topics := helpTopicNames()
	return &cobra.Command{
		Use:   "help [COMMAND|TOPIC]",
		Short: helpSummary(),
		Long: "Prints the help of a command (the same as 'gogatt COMMAND --help') or of a topic (" +
			strings.Join(topics, ", ") + ");\nwithout an argument, the list of commands and the global flags.",
		Example: "  gogatt help read\n  gogatt help exit-codes",
		Args:    cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cc *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, c := range commands {
				if strings.HasPrefix(c.name, toComplete) {
					out = append(out, cobra.CompletionWithDesc(c.name, c.summary))
				}
			}
			for _, t := range topics {
				if strings.HasPrefix(t, toComplete) {
					out = append(out, cobra.CompletionWithDesc(t, "help topic"))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cc *cobra.Command, args []string) error {
			root := cc.Root()
			if len(args) == 0 {
				a.mainUsage(cc.OutOrStdout())
				return nil
			}
			if t, ok := helpTopics()[args[0]]; ok {
				fmt.Fprint(cc.OutOrStdout(), t)
				return nil
			}
			for _, sub := range root.Commands() {
				if sub.Name() == args[0] && lookup(args[0]) != nil {
					a.help(cc.OutOrStdout(), sub)
					return nil
				}
			}
			return unknownCommand(root, args[0])
		},
	}
}

// unknownCommand is the error for a command name that is not one, with cobra's suggestions.
func unknownCommand(root *cobra.Command, name string) error {
	if s := root.SuggestionsFor(name); len(s) > 0 {
		return fmt.Errorf("unknown command %q: did you mean %s?", name, quoteList(s))
	}
	return fmt.Errorf("unknown command %q (run 'gogatt help' for the list)", name)
}

// withFlagSuggestion adds "did you mean --duration?" to pflag's "unknown flag: --durtion", and
// "did you mean --sim?" to its "unknown shorthand flag: 's' in -sim" (a long flag with one dash,
// as Go's flag package accepts).
func withFlagSuggestion(cc *cobra.Command, err error) error {
	msg := err.Error()
	typed, ok := strings.CutPrefix(msg, "unknown flag: --")
	if i := strings.LastIndex(msg, " in -"); !ok && strings.HasPrefix(msg, "unknown shorthand flag: ") && i >= 0 {
		typed = msg[i+len(" in -"):]
		ok = len(typed) > 1
	}
	if !ok {
		return err
	}
	var near []string
	cc.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (strings.HasPrefix(f.Name, typed) || editDistance(typed, f.Name) <= 2) {
			near = append(near, "--"+f.Name)
		}
	})
	if len(near) == 0 {
		return err
	}
	return fmt.Errorf("%w: did you mean %s?", err, quoteList(near))
}

// editDistance is the Levenshtein distance of a and b (ASCII flag names).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// quoteList renders names as "a", "a or b", "a, b or c".
func quoteList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// help prints the help of a command of the tree (the root: mainUsage).
func (a *app) help(w io.Writer, cc *cobra.Command) {
	if !cc.HasParent() {
		a.mainUsage(w)
		return
	}
	cc.InitDefaultHelpFlag()
	args := strings.TrimPrefix(cc.Use, cc.Name())
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.TrimSpace("gogatt "+cc.Name()+" [flags]"+args), cc.Long)
	local := pflag.NewFlagSet(cc.Name(), pflag.ContinueOnError)
	local.SortFlags = false // as registered, --help last
	own := cc.LocalNonPersistentFlags()
	cc.Flags().VisitAll(func(f *pflag.Flag) {
		if own.Lookup(f.Name) != nil {
			local.AddFlag(f)
		}
	})
	fmt.Fprintf(w, "\nFlags:\n%s", local.FlagUsages())
	var globals []string
	cc.Root().PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Shorthand != "" {
			globals = append(globals, "-"+f.Shorthand)
		} else {
			globals = append(globals, "--"+f.Name)
		}
	})
	fmt.Fprintf(w, "\nGlobal flags, anywhere on the line ('gogatt --help' says more): %s\n", strings.Join(globals, ", "))
	if cc.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cc.Example)
	}
	fmt.Fprint(w, "\nExit status: 0 on success; 'gogatt help exit-codes' lists the others.\n")
}

// mainUsage is 'gogatt --help': every command, the global flags, examples.
func (a *app) mainUsage(w io.Writer) {
	fmt.Fprint(w, `gogatt talks to Bluetooth Low Energy devices over GATT, through a BLED112 dongle (BGAPI),
BlueZ's bluetoothd over D-Bus, or BlueZ's gatttool. --sim runs everything on an emulated BLED112 with demo devices.

Usage: gogatt [global flags] COMMAND [flags] [arguments]
       gogatt --version | --help

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-11s %s\n", "help", helpSummary())
	fmt.Fprintf(w, "\nGlobal flags (accepted anywhere on the line):\n%s", a.root.PersistentFlags().FlagUsages())
	fmt.Fprint(w, `
Examples:
  gogatt demo --sim
  gogatt scan --sim
  gogatt read --sim C0:FF:EE:00:00:01 2a19
  gogatt subscribe --sim C0:FF:EE:00:00:01 2a37 --count 5

Run 'gogatt help COMMAND' (or 'gogatt COMMAND --help') for a command's flags and examples,
'gogatt help exit-codes' for the exit statuses, 'gogatt help completion' for shell completion.
`)
}

// isCompletionRequest reports whether args are a completion script's request (cobra's hidden
// __complete command).
func isCompletionRequest(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}
