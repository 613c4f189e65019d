# bash completion for lbhc. Installed as
# /usr/share/bash-completion/completions/lbhc, or: source completion/lbhc.bash
#
# lbhc itself lists the candidates: with urfave/cli's EnableBashCompletion,
# `lbhc [command...] [-partial] --generate-bash-completion` prints the
# subcommands (or, after a word starting with -, the flags) one per line
# and runs nothing else. So this file never goes stale when flags change.
_lbhc() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local -a args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	# Flag values (e.g. --vip-mode <TAB>) are not completed by lbhc:
	# fall back to file names there.
	if [[ $cur == -* ]]; then
		args+=("$cur")
	fi
	local out
	out=$("${COMP_WORDS[0]}" "${args[@]}" --generate-bash-completion 2>/dev/null) || return 0
	local IFS=$'\n'
	# shellcheck disable=SC2207 # one candidate per line, split on IFS
	COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -o bashdefault -o default -F _lbhc lbhc
