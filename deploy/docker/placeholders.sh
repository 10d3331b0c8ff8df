#!/bin/sh
# Creates empty sources for every workspace member and every target its
# manifest declares ([[bin]], [[bench]], [[test]], [[example]]), so the
# Dockerfile's dependency layer can build the dependencies from the
# manifests alone. Prints each file it created, one per line (for removal).
set -eu
members=$(sed -n '/^members *=/{s/.*\[//;s/\].*//;s/[",]/ /g;p;}' Cargo.toml)
create() { # path content
  [ -e "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" > "$1"
  echo "$1"
}
for member in $members; do
  create "$member/src/lib.rs" ""
  # name|path|kind for each declared target; path may be empty.
  awk '
    function emit() { if (kind != "" && name != "") printf "%s|%s|%s\n", name, path, kind; name = ""; path = "" }
    /^\[\[(bin|bench|test|example)\]\]/ { emit(); kind = $0; gsub(/[\[\]]/, "", kind); next }
    /^\[/ { emit(); kind = ""; next }
    kind != "" && /^name *=/ { name = $0; sub(/^name *= *"/, "", name); sub(/".*/, "", name) }
    kind != "" && /^path *=/ { path = $0; sub(/^path *= *"/, "", path); sub(/".*/, "", path) }
    END { emit() }
  ' "$member/Cargo.toml" | while IFS="|" read -r name path kind; do
    if [ -z "$path" ]; then
      case "$kind" in
        bin) path="src/bin/$name.rs" ;;
        bench) path="benches/$name.rs" ;;
        test) path="tests/$name.rs" ;;
        example) path="examples/$name.rs" ;;
      esac
    fi
    create "$member/$path" "fn main() {}"
  done
done
