#!/usr/bin/env bash
# Merge the shards of an escalation-sim job array into cells/outcomes tables.
#
# Submit it to start when every array task has succeeded:
#
#   sbatch --dependency=afterok:$array docs/examples/slurm/merge.sh
#
# with OUT exported as for run-array.sh. `afterok` on an array job waits for
# all of its tasks; if one fails the merge never starts (squeue shows it
# pending with reason DependencyNeverSatisfied): rerun the failed tasks, then
# run this script (or `escalation-sim merge "$OUT"`) by hand. Extra arguments
# are passed to `escalation-sim merge` (e.g. --force to merge again).
#
#SBATCH --job-name=escalation-sim-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:15:00
#SBATCH --output=escalation-sim-merge-%j.log

set -euo pipefail

: "${OUT:?export OUT=<the results directory of the array> before sbatch}"

# source /shared/$USER/venvs/escalation-sim/bin/activate

escalation-sim merge "${OUT}" "$@"
