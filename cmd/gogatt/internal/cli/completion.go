package cli

import (
	"context"
	"fmt"
	"strings"
)

func runCompletion(_ context.Context, a *app, args []string) error {
	var s string
	switch args[0] {
	case "bash":
		s = bashCompletion()
	case "zsh":
		s = zshCompletion()
	case "fish":
		s = fishCompletion()
	default:
		return usagef("unknown shell %q: want bash, zsh or fish", args[0])
	}
	fmt.Fprint(a.env.Stdout, s)
	return nil
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for gogatt; enable with: source <(gogatt completion bash)
_gogatt() {
    local cur prev cmd i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "$prev" in
        --backend) COMPREPLY=($(compgen -W "bgapi gatttool" -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "auto hex utf8 int" -- "$cur")); return ;;
        --endian) COMPREPLY=($(compgen -W "little big" -- "$cur")); return ;;
        --size) COMPREPLY=($(compgen -W "1 2 4 8" -- "$cur")); return ;;
        --address-type) COMPREPLY=($(compgen -W "public random" -- "$cur")); return ;;
        --port) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case "$cmd" in
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "        %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.name, strings.Join(completionWords(c), " "))
	}
	fmt.Fprintf(&b, `        help) COMPREPLY=($(compgen -W %q -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W %q -- "$cur")) ;;
    esac
}
complete -F _gogatt gogatt
`, joinNames(commands), joinNames(commands)+" "+strings.Join(commandFlagNames(&command{}), " "))
	return b.String()
}

// completionWords are the words offered after a command: its flags, and fixed arguments.
func completionWords(c *command) []string {
	w := commandFlagNames(c)
	if c.name == "completion" {
		w = append([]string{"bash", "zsh", "fish"}, w...)
	}
	return w
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString(`#compdef gogatt
# zsh completion for gogatt; install with: gogatt completion zsh > "${fpath[1]}/_gogatt"
_gogatt() {
    local -a cmds
    cmds=(
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "        %q\n", c.name+":"+c.summary)
	}
	b.WriteString(`        "help:help about a command"
    )
    if (( CURRENT == 2 )); then
        _describe 'command' cmds
        return
    fi
    case "${words[2]}" in
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "        %s) compadd -- %s ;;\n", c.name, strings.Join(completionWords(c), " "))
	}
	fmt.Fprintf(&b, `        help) compadd -- %s ;;
    esac
}
compdef _gogatt gogatt
`, joinNames(commands))
	return b.String()
}

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for gogatt; install with: gogatt completion fish > ~/.config/fish/completions/gogatt.fish\n")
	b.WriteString("complete -c gogatt -f\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "complete -c gogatt -n __fish_use_subcommand -a %s -d %q\n", c.name, c.summary)
	}
	b.WriteString("complete -c gogatt -n __fish_use_subcommand -a help -d \"help about a command\"\n")
	for _, c := range commands {
		for _, f := range commandFlagNames(c) {
			if long, ok := strings.CutPrefix(f, "--"); ok {
				fmt.Fprintf(&b, "complete -c gogatt -n '__fish_seen_subcommand_from %s' -l %s\n", c.name, long)
			} else {
				fmt.Fprintf(&b, "complete -c gogatt -n '__fish_seen_subcommand_from %s' -s %s\n", c.name, strings.TrimPrefix(f, "-"))
			}
		}
	}
	b.WriteString("complete -c gogatt -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	b.WriteString("complete -c gogatt -l backend -xa 'bgapi gatttool'\n")
	b.WriteString("complete -c gogatt -l format -xa 'auto hex utf8 int'\n")
	b.WriteString("complete -c gogatt -l port -r -F\n")
	return b.String()
}
