# Sourced by the test scripts: `stage NAME COMMAND ARGS…` runs a stage and prints its wall time
# and the CPU time its processes used (both cores' worth: the budget is spent in CPU time), as
# "== NAME: W s, C s CPU", and appends the same to the array `times`.
times=()
clock_ticks=$(getconf CLK_TCK)
# The CPU time, in clock ticks, of this shell's children that have ended.
children_cpu() { awk '{ print $16 + $17 }' "/proc/$BASHPID/stat"; }
stage() {
    local name=$1 start=$SECONDS cpu
    shift
    cpu=$(children_cpu)
    echo "== $name"
    "$@"
    cpu=$((($(children_cpu) - cpu) / clock_ticks))
    times+=("$(printf '%-40s %5d s %6d s CPU' "$name" $((SECONDS - start)) "$cpu")")
    echo "== $name: $((SECONDS - start)) s, $cpu s CPU"
}
