# Sourced by the test scripts: `stage NAME COMMAND ARGS…` runs a stage and prints its wall time
# and the CPU time its processes used (both cores' worth: the budget is spent in CPU time), as
# "== NAME: W s, C s CPU", and appends the same to the array `times`.
times=()
clock_ticks=$(getconf CLK_TCK)
# Sets children_ticks to the CPU time, in clock ticks, of this shell's children that have ended
# (read here, not in a command substitution, which would be a child of its own).
children_cpu() {
    local f
    read -r -a f <"/proc/$BASHPID/stat"
    children_ticks=$((f[15] + f[16]))
}
# stage_line NAME WALL CPU: a stage's line in the table of stage times.
stage_line() { printf '%-40s %5d s %6d s CPU\n' "$@"; }
stage() {
    local name=$1 start=$SECONDS wall cpu
    shift
    children_cpu
    cpu=$children_ticks
    echo "== $name"
    "$@"
    children_cpu
    cpu=$(((children_ticks - cpu) / clock_ticks))
    wall=$((SECONDS - start))
    times+=("$(stage_line "$name" "$wall" "$cpu")")
    echo "== $name: $wall s, $cpu s CPU"
}
