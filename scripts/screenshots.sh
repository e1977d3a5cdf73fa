#!/bin/sh
# Screenshots of the interactive browser for the README: the real binary in xterm on a virtual
# X server (Xvfb), driven through tmux send-keys, captured with ImageMagick's `import`.
#
#   scripts/screenshots.sh            # writes screenshots/my-app-v{1,3}-{layers,tree,waste,help}.png
#
# Needs (Debian): xvfb xterm imagemagick tmux x11-utils fonts-dejavu-core. Builds dsize (release).
set -eu

cd "$(dirname "$0")/.."
for tool in Xvfb xterm import tmux xwininfo; do
    command -v "$tool" >/dev/null || { echo "screenshots.sh: $tool is missing (apt-get install xvfb xterm imagemagick tmux x11-utils)" >&2; exit 2; }
done
cargo build --release --quiet
BIN="$PWD/target/release/dsize"
OUT="$PWD/screenshots"
mkdir -p "$OUT"

COLS=120
ROWS=34
SOCK="dsize-shots-$$"
CONF=$(mktemp)
DISPLAY_NUM=99
while [ -e "/tmp/.X${DISPLAY_NUM}-lock" ]; do DISPLAY_NUM=$((DISPLAY_NUM + 1)); done
export DISPLAY=":$DISPLAY_NUM"

XVFB_PID=""
XTERM_PID=""
cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    [ -n "$XTERM_PID" ] && kill "$XTERM_PID" 2>/dev/null || true
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
    rm -f "$CONF"
}
trap cleanup EXIT INT TERM

Xvfb "$DISPLAY" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
i=0
until xwininfo -root >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "screenshots.sh: Xvfb did not start" >&2; exit 2; }
    sleep 0.1
done

# Waits until the pane shows $1 (a fixed string).
wait_for() {
    i=0
    until tmux -L "$SOCK" capture-pane -p -t shot | grep -qF -- "$1"; do
        i=$((i + 1))
        if [ $i -ge 200 ]; then
            echo "screenshots.sh: waited 20 s for '$1'; the screen is:" >&2
            tmux -L "$SOCK" capture-pane -p -t shot >&2
            exit 2
        fi
        sleep 0.1
    done
    sleep 0.4 # let xterm paint
}

keys() { tmux -L "$SOCK" send-keys -t shot "$@"; }

shot() {
    import -window "$WIN" "$OUT/$1.png"
    echo "wrote screenshots/$1.png"
}

# Starts dsize on an image in a fresh xterm (tmux inside, status line off).
open_image() {
    tmux -L "$SOCK" kill-server 2>/dev/null || true
    [ -n "$XTERM_PID" ] && kill "$XTERM_PID" 2>/dev/null || true
    # A 256-colour terminal all the way: xterm, tmux, and dsize inside tmux.
    printf 'set -g default-terminal tmux-256color\nset -g status off\nset -ga terminal-overrides ",xterm-256color:Tc"\n' >"$CONF"
    tmux -L "$SOCK" -f "$CONF" new-session -d -x "$COLS" -y "$ROWS" -s shot \
        "env -u NO_COLOR '$BIN' 'assets/$1.tar'; sleep 600"
    xterm -tn xterm-256color -title dsize-shot -geometry "${COLS}x${ROWS}+0+0" -fa 'DejaVu Sans Mono' -fs 11 \
        -bg '#1d1f21' -fg '#d7dae0' -xrm 'XTerm*allowTitleOps: false' -xrm 'XTerm*internalBorder: 6' \
        -e tmux -L "$SOCK" attach -t shot &
    XTERM_PID=$!
    i=0
    until WIN=$(xwininfo -name dsize-shot 2>/dev/null | awk '/Window id:/ {print $4}') && [ -n "$WIN" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "screenshots.sh: xterm did not open" >&2; exit 2; }
        sleep 0.1
    done
    tmux -L "$SOCK" resize-window -t shot -x "$COLS" -y "$ROWS" 2>/dev/null || true
    wait_for "efficiency"
}

# my-app v1: the naive image, with waste and leftovers.
open_image my-app-v1
keys j j
wait_for "Files · #2 changes"
shot my-app-v1-layers
keys Tab t
wait_for "Files · as of #2"
shot my-app-v1-tree
keys Tab
wait_for "fix:"
keys j j j j j
sleep 0.3
shot my-app-v1-waste
keys '?'
wait_for "Esc closes"
shot my-app-v1-help

# my-app v3: the multi-stage image.
open_image my-app-v3
keys j
wait_for "Files · #1 changes"
shot my-app-v3-layers
keys Tab
wait_for "Files · #1 changes"
shot my-app-v3-tree
keys Tab
wait_for "Nothing wasted"
shot my-app-v3-waste
keys '?'
wait_for "Esc closes"
shot my-app-v3-help
