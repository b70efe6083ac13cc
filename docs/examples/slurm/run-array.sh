#!/usr/bin/env bash
# One shard of an escalation-sim run per task of a SLURM job array.
#
# Submit (see docs/scaling.md, "SLURM job arrays"), from the repository root:
#
#   export OUT=$PWD/results/default/array-seed1-n10M    # shared filesystem, same for every task
#   export NUMBA_CACHE_DIR=/shared/$USER/numba-cache    # shared filesystem (or leave unset: ~/.cache)
#   warm=$(sbatch --parsable --time=00:15:00 --cpus-per-task=1 --wrap \
#       'python -c "import escalation_sim; from escalation_sim.engines import montecarlo as mc; mc.warm_up()"')
#   array=$(sbatch --parsable --dependency=afterok:$warm docs/examples/slurm/run-array.sh \
#       experiments/default.toml -n 10000000 --seed 1)
#   sbatch --dependency=afterok:$array docs/examples/slurm/merge.sh
#
# Arguments after the script name are passed to `escalation-sim run` (the
# experiment file first); every task must get the same ones. The shard is
# SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT, so the
# array must be one contiguous range with step 1 (0-7, or 1-8).
#
# Resubmitting only some tasks (say 3 and 5 of --array=0-7) changes
# SLURM_ARRAY_TASK_COUNT, so give the shard count explicitly:
#
#   sbatch --array=3,5 --export=ALL,SHARDS=8 docs/examples/slurm/run-array.sh experiments/default.toml -n 10000000 --seed 1
#
# (SHARDS=N makes the shard SLURM_ARRAY_TASK_ID/N: for arrays numbered from 0.)
# A task that was killed resumes its shard; a task whose shard is complete
# exits with code 2 and changes nothing.
#
#SBATCH --job-name=escalation-sim
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --mem=2G
#SBATCH --time=02:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=escalation-sim-%A_%a.log

set -euo pipefail

: "${OUT:?export OUT=<results directory on a shared filesystem> before sbatch}"
if [[ $# -lt 1 ]]; then
    echo "usage: sbatch run-array.sh EXPERIMENT.toml [escalation-sim run options]" >&2
    exit 2
fi
if [[ -n "${SHARDS:-}" ]]; then
    shard="${SLURM_ARRAY_TASK_ID:?not in a job array}/${SHARDS}"
else
    shard=slurm
fi

# Activate the environment escalation-sim is installed in, if the job does not inherit it:
# source /shared/$USER/venvs/escalation-sim/bin/activate

echo "task ${SLURM_ARRAY_TASK_ID:-?} on $(hostname): shard ${shard}, NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-<default>}" >&2
exec escalation-sim run "$@" \
    --shard "${shard}" \
    --threads "${SLURM_CPUS_PER_TASK:-1}" \
    --out "${OUT}" \
    --no-progress
