package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// completionCommand prints a shell completion script. bash and zsh ask
// the binary itself for candidates (urfave/cli's --generate-bash-completion,
// EnableBashCompletion on the app); fish gets a static script generated
// from the command tree.
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: source <(web4p2p completion bash)",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("completion: want bash|zsh|fish, got %d arguments", c.NArg())
			}
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("completion fish: %w", err)
				}
				fmt.Fprint(c.App.Writer, s)
			default:
				return fmt.Errorf("completion: unknown shell %q (want bash|zsh|fish)", c.Args().First())
			}
			return nil
		},
	}
}

// bashCompletion is urfave/cli v2's bash_autocomplete for web4p2p.
const bashCompletion = `# web4p2p bash completion: source <(web4p2p completion bash)
_web4p2p_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "${cur}" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F _web4p2p_complete web4p2p
`

// zshCompletion is urfave/cli v2's zsh_autocomplete for web4p2p.
const zshCompletion = `#compdef web4p2p
# web4p2p zsh completion: source <(web4p2p completion zsh)
_web4p2p() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _web4p2p web4p2p
`
