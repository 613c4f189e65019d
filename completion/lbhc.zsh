#compdef lbhc
# zsh completion for lbhc. Installed as _lbhc in a directory on $fpath
# (Debian: /usr/share/zsh/vendor-completions, RPM: /usr/share/zsh/site-functions).
#
# As in completion/lbhc.bash, lbhc lists the candidates itself: urfave/cli's
# `--generate-bash-completion` prints subcommands, or flags after a word
# starting with -, one per line.
_lbhc() {
	local cur=${words[CURRENT]}
	local -a args candidates
	args=("${(@)words[2,CURRENT-1]}")
	[[ $cur == -* ]] && args+=("$cur")
	candidates=("${(@f)$(${words[1]} "${(@)args}" --generate-bash-completion 2>/dev/null)}")
	candidates=("${(@)candidates:#}")
	if (( ${#candidates} )); then
		compadd -- "${(@)candidates}"
	else
		_files
	fi
}
_lbhc "$@"
