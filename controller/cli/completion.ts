import type { Command, Option } from 'commander';

// Shell completion generated from the CLI's own definition, so it never lags behind a flag.
interface Level {
  path: string;
  commands: string[];
  flags: string[];
  valueFlags: string[];
  choices: Map<string, string[]>;
}

function levels(cmd: Command, prefix = ''): Level[] {
  const opts = cmd.options as readonly Option[];
  const flagsOf = (o: Option) => [o.short, o.long].filter((f): f is string => !!f);
  const choices = new Map<string, string[]>();
  for (const o of opts) if (o.argChoices) for (const f of flagsOf(o)) choices.set(f, o.argChoices);
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const here: Level = {
    path: prefix,
    commands: subs.map((c) => c.name()),
    flags: [...opts.flatMap(flagsOf), '--help'],
    valueFlags: opts.filter((o) => o.required || o.optional).flatMap(flagsOf),
    choices,
  };
  return [here, ...subs.flatMap((c) => levels(c, prefix ? `${prefix} ${c.name()}` : c.name()))];
}

const cases = (ls: Level[], pick: (l: Level) => string[]) => ls.map((l) => `    '${l.path}') echo '${pick(l).join(' ')}' ;;`).join('\n');
const choiceCases = (ls: Level[]) => {
  const all = new Map<string, string[]>();
  for (const l of ls) for (const [f, c] of l.choices) all.set(`${l.path}|${f}`, c);
  return [...all].map(([k, c]) => `    '${k}') echo '${c.join(' ')}' ;;`).join('\n');
};

// Shared by both shells: the tables of commands, flags, flags that take a value, and choices.
function tables(program: Command): string {
  const ls = levels(program);
  return `_muster_commands() {
  case "$1" in
${cases(ls, (l) => l.commands)}
  esac
}
_muster_flags() {
  case "$1" in
${cases(ls, (l) => l.flags)}
  esac
}
_muster_value_flags() {
  case "$1" in
${cases(ls, (l) => l.valueFlags)}
  esac
}
_muster_choices() {
  case "$1" in
${choiceCases(ls)}
    *'|--output'|*'|-o') echo 'table wide json yaml' ;;
  esac
}
_muster_in() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
# The command path typed so far (e.g. "certs renew") and whether the last word wants a value.
_muster_walk() {
  _muster_path=''; _muster_value=''
  local i w skip=''
  for ((i = 2; i <= $#; i++)); do
    eval "w=\\\${$i}"
    if [ -n "$skip" ]; then skip=''; [ "$i" -eq $# ] && _muster_value="$prevflag"; continue; fi
    [ "$i" -eq $# ] && break
    if _muster_in "$w" "$(_muster_value_flags "$_muster_path") $(_muster_value_flags '')"; then skip=1; prevflag="$w"; continue; fi
    case "$w" in -*) continue ;; esac
    if _muster_in "$w" "$(_muster_commands "$_muster_path")"; then _muster_path="\${_muster_path:+$_muster_path }$w"; fi
  done
}
`;
}

export function bashCompletion(program: Command): string {
  return `# muster completion for bash. Load it with: source <(muster completion bash)
${tables(program)}
_muster() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prevflag=''
  _muster_walk "\${COMP_WORDS[@]:0:COMP_CWORD+1}"
  if [ -n "$_muster_value" ]; then
    local choices; choices="$(_muster_choices "$_muster_path|$_muster_value")"
    [ -z "$choices" ] && choices="$(_muster_choices "|$_muster_value")"
    if [ -n "$choices" ]; then COMPREPLY=($(compgen -W "$choices" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_muster_flags "$_muster_path") $(_muster_flags '')" -- "$cur"))
  elif [ "$_muster_path" = completion ]; then
    COMPREPLY=($(compgen -W 'bash zsh' -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_muster_commands "$_muster_path")" -- "$cur"))
  fi
}
complete -o default -F _muster muster
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef muster
# muster completion for zsh. Load it with: source <(muster completion zsh)
# (or save it as _muster in a folder of $fpath).
${tables(program)}
_muster() {
  local cur="\${words[CURRENT]}" prevflag='' list
  _muster_walk "\${(@)words[1,CURRENT]}"
  if [[ -n "$_muster_value" ]]; then
    local choices; choices="$(_muster_choices "$_muster_path|$_muster_value")"
    [[ -z "$choices" ]] && choices="$(_muster_choices "|$_muster_value")"
    if [[ -n "$choices" ]]; then compadd -- \${=choices}; else _files; fi
  elif [[ "$cur" == -* ]]; then
    list="$(_muster_flags "$_muster_path") $(_muster_flags '')"; compadd -- \${=list}
  elif [[ "$_muster_path" == completion ]]; then
    compadd -- bash zsh
  else
    list="$(_muster_commands "$_muster_path")"; compadd -- \${=list}
  fi
}
if (( $+functions[compdef] )); then compdef _muster muster; fi
`;
}
