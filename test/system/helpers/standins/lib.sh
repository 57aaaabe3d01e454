# Shared by the stand-in programs (sourced, not run). The tests name them as stand-ins: each one
# records the exact argv it received, then does what this kernel can do in place of what it cannot
# (no iscsi_tcp, no nfs, no ceph/rbd drivers here). MUSTER_STANDIN_DIR holds the log and state.

: "${MUSTER_STANDIN_DIR:?the stand-ins need MUSTER_STANDIN_DIR}"
STANDIN_SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# One line per call: fields separated by tabs; backslash, tab and newline escaped as \\ \t \n.
standin_record() {
  local out="" a first=1
  for a in "$@"; do
    a=${a//\\/\\\\}
    a=${a//$'\t'/\\t}
    a=${a//$'\n'/\\n}
    if [ $first = 1 ]; then out=$a; first=0; else out+=$'\t'$a; fi
  done
  printf '%s\n' "$out" >> "$MUSTER_STANDIN_DIR/argv.log"
}

# The real program of that name, skipping this folder.
real_program() {
  local d dirs
  IFS=: read -ra dirs <<< "$PATH:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
  for d in "${dirs[@]}"; do
    [ -n "$d" ] || continue
    [ "$(cd "$d" 2>/dev/null && pwd -P)" = "$STANDIN_SELF_DIR" ] && continue
    if [ -x "$d/$1" ]; then echo "$d/$1"; return 0; fi
  done
  echo "stand-in: no real $1 on PATH" >&2
  return 127
}

# Every symlink a stand-in made under /dev (udev's job on a real node), for the tests' cleanup.
# Folders it had to create are listed too, so the cleanup leaves /dev as it found it.
standin_link() {
  local d=$(dirname "$2") missing=()
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  mkdir -p "$(dirname "$2")"
  for d in "${missing[@]}"; do echo "$d" >> "$MUSTER_STANDIN_DIR/dirs"; done
  ln -sfn "$1" "$2"
  echo "$2" >> "$MUSTER_STANDIN_DIR/links"
}
